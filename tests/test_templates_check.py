"""`tgfeed check` compiles every template, the administrator's overrides first, and
names the one that does not compile; an edited template is checked again."""

from __future__ import annotations

from pathlib import Path

from tgfeed.templating import check_templates, make_env


def test_the_packaged_templates_compile() -> None:
    assert check_templates(make_env()) == []


def test_a_broken_override_is_named_and_its_fix_is_seen(tmp_path: Path) -> None:
    custom = tmp_path / "mytemplates"
    custom.mkdir()
    override = custom / "digest.txt.j2"
    override.write_text("Tuần {{ digest.number }}\n{% if x %}không đóng\n", encoding="utf-8")

    problems = check_templates(make_env(custom))
    assert len(problems) == 1 and problems[0].startswith("templates/digest.txt.j2: "), problems

    override.write_text("Tuần {{ digest.number }}\n", encoding="utf-8")
    assert check_templates(make_env(custom)) == []  # the same process sees the fix

    override.write_text("{% endif %}\n", encoding="utf-8")
    assert [p.split(":")[0] for p in check_templates(make_env(custom))] == [
        "templates/digest.txt.j2"
    ]
