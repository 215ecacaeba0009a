from __future__ import annotations

import io
import json
import unicodedata
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tgfeed.app import App
from tgfeed.errors import IngestError
from tgfeed.importers import EXPORT_FIELDS, article_from_record, read_csv, read_jsonl
from tgfeed.jobs.ingest import export_jsonl, import_paths

from .conftest import SAMPLES

SITE = "https://tuyengiaohungyen.vn"


def export_text(app: App) -> str:
    out = io.StringIO()
    export_jsonl(app, out)
    return out.getvalue()


def test_samples_are_rich_enough(sample_app: App) -> None:
    cats = sample_app.store.articles.categories(only_used=True)
    assert sample_app.store.articles.count() >= 40
    assert len([c for c in cats if c.depth == 2]) >= 6
    meetings = sample_app.store.articles.search("hoi nghi", 100)
    assert len(meetings) >= 5


def test_importing_twice_leaves_one_copy(app: App) -> None:
    first = import_paths(app, [SAMPLES])
    second = import_paths(app, [SAMPLES])
    assert first.count("added") == app.store.articles.count() > 0
    assert second.counts == {
        "added": 0,
        "updated": 0,
        "unchanged": first.count("added"),
        "failed": 0,
    }


def test_a_dry_run_import_predicts_each_outcome_and_stores_nothing(
    app: App, tmp_path: Path
) -> None:
    """The one ingest path's dry run: what a real import would do, with nothing stored."""
    lines = SAMPLES.read_text(encoding="utf-8").splitlines()
    first = json.loads(lines[0])
    (tmp_path / "one.jsonl").write_text(lines[0] + "\n", encoding="utf-8")
    import_paths(app, [tmp_path / "one.jsonl"])
    changed = {**first, "title": first["title"] + " (cập nhật)"}
    (tmp_path / "two.jsonl").write_text(
        json.dumps(changed, ensure_ascii=False) + "\n" + lines[1] + "\n" + lines[0] + "\n",
        encoding="utf-8",
    )
    version = app.store.articles.version
    dry = import_paths(app, [tmp_path / "two.jsonl"], dry_run=True)
    assert dry.counts == {"added": 1, "updated": 1, "unchanged": 1, "failed": 0}
    assert app.store.articles.version == version and app.store.articles.count() == 1
    assert len(app.store.articles.recent_runs(5)) == 1  # a dry run is not recorded


def test_export_import_export_is_byte_identical(
    app_factory: Callable[..., App], tmp_path: Path, seed_dir: Path
) -> None:
    a = app_factory(samples=True)
    import_paths(a, [seed_dir])
    first = export_text(a)
    a.close()
    (tmp_path / "export.jsonl").write_text(first, encoding="utf-8")
    (tmp_path / "data" / "tgfeed.db").unlink()
    for suffix in ("-wal", "-shm"):
        (tmp_path / "data" / f"tgfeed.db{suffix}").unlink(missing_ok=True)
    b = app_factory()
    assert b.store.articles.count() == 0
    result = import_paths(b, [tmp_path / "export.jsonl"])
    assert result.count("failed") == 0
    assert export_text(b) == first


def test_export_has_the_documented_fields(sample_app: App) -> None:
    line = export_text(sample_app).splitlines()[0]
    rec = json.loads(line)
    assert tuple(rec) == EXPORT_FIELDS
    assert rec["published"].endswith("+07:00")
    assert isinstance(rec["category"], list)


def test_bad_lines_are_reported_with_their_line_and_the_rest_kept(app: App, tmp_path: Path) -> None:
    good = json.loads(SAMPLES.read_text(encoding="utf-8").splitlines()[0])
    lines = [
        json.dumps(good, ensure_ascii=False),
        "{not json",
        json.dumps({**good, "id": "x1", "title": ""}, ensure_ascii=False),
        json.dumps({**good, "id": "x2", "published": "31/02/2026 - 1:00:00 PM"}),
        json.dumps({**good, "id": "x3", "category": []}),
        json.dumps({**good, "id": "x4", "views": -3}),
        json.dumps({**good, "id": "x5", "colour": "red"}),
        json.dumps([1, 2]),
        json.dumps({**good, "id": "x6"}, ensure_ascii=False),
    ]
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = import_paths(app, [path])
    assert result.counts["added"] == 2
    reasons = {f.item.rsplit(":", 1)[1]: f.reason for f in result.failures}
    assert set(reasons) == {"2", "3", "4", "5", "6", "7", "8"}
    assert "not valid JSON" in reasons["2"]
    assert "'title'" in reasons["3"]
    assert "'published' is not a date" in reasons["4"]
    assert "'category'" in reasons["5"]
    assert "'views'" in reasons["6"]
    assert "unknown field" in reasons["7"] and "colour" in reasons["7"]
    assert "JSON object" in reasons["8"]
    runs = app.store.articles.recent_runs()
    assert runs[0]["failed"] == 7
    assert len(app.store.articles.recent_failures()) == 7


def test_csv_import(app: App, tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text(
        "id,url,title,category,published,author,views,summary,body_text,signature,related\n"
        "c1,https://tuyengiaohungyen.vn/bai-viet/a-1.aspx,Hội thảo khoa học,"
        '"Thông tin - Tuyên truyền » Hội nghị - Hội thảo",24/11/2026 - 2:15:00 PM,,12,,'
        '"Đoạn một.\n\nĐoạn hai.",PV,Bài A | Bài B\n'
        "c2,,Không ngày,Thông báo,,,,,Nội dung,,\n",
        encoding="utf-8",
    )
    result = import_paths(app, [path])
    assert result.counts["added"] == 1
    assert result.failures[0].item.endswith(":5")  # the record's first line
    got = app.store.articles.get("c1")
    assert got is not None
    assert got.related == ("Bài A", "Bài B")
    assert got.body_text == "Đoạn một.\n\nĐoạn hai."
    assert got.category_slug == "thong-tin-tuyen-truyen/hoi-nghi-hoi-thao"


def test_fixture_import_files(app: App) -> None:
    folder = Path(__file__).parent / "fixtures" / "import"
    if not (folder / "sample.csv").exists():
        pytest.skip("import fixtures not written yet")
    csv_result = import_paths(app, [folder / "sample.csv"])
    assert csv_result.counts["added"] == 3 and csv_result.counts["failed"] == 2
    jl = import_paths(app, [folder / "mixed.jsonl"])
    assert jl.counts["added"] == 4 and jl.counts["failed"] == 2


_json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)
_record = st.fixed_dictionaries(
    {},
    optional={k: _json_value for k in EXPORT_FIELDS}
    | {
        "title": st.text(max_size=50),
        "published": st.sampled_from(
            ["2026-11-24T08:15:00+07:00", "24/11/2026 - 8:15:00 AM", "2026-13-01", "x", ""]
        ),
        "category": st.lists(st.text(max_size=20), max_size=3),
        "url": st.sampled_from(["https://a.vn/bai-viet/x-1.aspx", "javascript:alert(1)", ""]),
    },
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(_record)
def test_any_record_gives_an_article_or_an_ingest_error(rec: dict[str, object]) -> None:
    try:
        a = article_from_record(rec, "fuzz:1", SITE)
    except IngestError as exc:
        assert exc.message.startswith("fuzz:1: ")
        return
    for text in (a.title, a.body_text, a.summary, a.body_html, *a.category):
        assert unicodedata.is_normalized("NFC", text)
        assert all(c in "\t\n" or ord(c) >= 0x20 for c in text)
    assert a.title and a.category and a.url.startswith("http")


@settings(max_examples=100)
@given(st.text(max_size=500))
def test_any_jsonl_or_csv_text_never_raises(text: str) -> None:
    for _, item in read_jsonl(text, "f.jsonl", SITE):
        assert isinstance(item, IngestError) or item.title
    for _, item in read_csv(text, "f.csv", SITE):
        assert isinstance(item, IngestError) or item.title
