"""``opml.import_groups``: the category feeds a reader should import so that every
article arrives once — the leaves, grouped by top-level category, plus a parent only
when it has articles of its own (its count is more than its children's)."""

from __future__ import annotations

from tgfeed.feeds.catalog import ALL_FEED, FeedSpec
from tgfeed.feeds.opml import import_groups


def spec(*names: str) -> FeedSpec:
    key = "/".join(n.lower().replace(" ", "-") for n in names)
    return FeedSpec(key, names)


A, AB, AC = spec("Tin A"), spec("Tin A", "Con B"), spec("Tin A", "Con C")
D = spec("Tin D")
E, EF, EFG = spec("Tin E"), spec("Tin E", "Con F"), spec("Tin E", "Con F", "Chau G")


def keys(groups: list[tuple[str | None, list[FeedSpec]]]) -> list[tuple[str | None, list[str]]]:
    return [(name, [s.key for s in feeds]) for name, feeds in groups]


def test_leaves_in_a_folder_per_top_level_category_and_a_lone_top_level_leaf() -> None:
    counts = {A.key: 5, AB.key: 2, AC.key: 3, D.key: 4}
    assert keys(import_groups([ALL_FEED, A, AB, AC, D], counts)) == [
        ("Tin A", [AB.key, AC.key]),
        (None, [D.key]),
    ]


def test_a_parent_with_articles_of_its_own_is_imported_too() -> None:
    counts = {A.key: 6, AB.key: 2, AC.key: 3}
    assert keys(import_groups([A, AB, AC], counts)) == [("Tin A", [A.key, AB.key, AC.key])]


def test_a_parent_is_judged_by_its_own_children_only() -> None:
    # E's only child F holds all of E's articles; F's child G holds all of F's.
    counts = {E.key: 5, EF.key: 5, EFG.key: 5}
    assert keys(import_groups([E, EF, EFG], counts)) == [("Tin E", [EFG.key])]
    counts = {E.key: 7, EF.key: 5, EFG.key: 4}  # both have articles of their own
    assert keys(import_groups([E, EF, EFG], counts)) == [("Tin E", [E.key, EF.key, EFG.key])]


def test_a_feed_with_feeds_below_but_no_child_feed_is_left_out() -> None:
    # F is not published: E has a grandchild feed, no child feed.
    counts = {E.key: 9, EFG.key: 4}
    assert keys(import_groups([E, EFG], counts)) == [("Tin E", [EFG.key])]


def test_the_folder_is_named_after_the_top_level_category_even_when_it_is_not_listed() -> None:
    assert keys(import_groups([EF, EFG], {EF.key: 3, EFG.key: 3})) == [("Tin E", [EFG.key])]


def test_a_missing_count_counts_as_none() -> None:
    assert keys(import_groups([A, AB], {})) == [("Tin A", [AB.key])]
    assert keys(import_groups([A, AB], {A.key: 1})) == [("Tin A", [A.key, AB.key])]


def test_nothing_to_import() -> None:
    assert import_groups([ALL_FEED], {}) == []
