"""The configuration's promises, edge by edge: the ranges README documents, the
duration syntax, the loader's messages, secrets and paths."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tgfeed.config import Config, parse_duration, read_secret
from tgfeed.errors import ConfigError
from tgfeed.loader import load, load_file, loads, validate

ROOT = Path(__file__).resolve().parents[1]
FEED_SOURCE = '[[sources]]\nname = "s"\nkind = "feed"\nurl = "https://a.vn/rss"\n'


def _readme_ranges() -> list[tuple[str, str, str]]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `([a-z_.]+)`(?: \([a-z]+\))? \| ([\d.]+) \| ([^|]+) \|$", text, re.M)
    assert len(rows) >= 20, rows
    return [(key, default, bound.strip()) for key, default, bound in rows]


RANGES = _readme_ranges()


def toml_for(key: str, value: object = None) -> str:
    *section, name = key.split(".")
    line = "" if value is None else f"{name} = {value}\n"
    if section == ["sources"]:
        return FEED_SOURCE + line
    return f"[{'.'.join(section)}]\n{line}"


def setting(config: Config, key: str) -> Any:
    node: Any = config
    for part in key.split("."):
        node = getattr(node, part)
        if part == "sources":
            node = node[0]
    return node


def problems(toml: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        loads(toml)
    return info.value.problems


def refused(key: str, value: object, bound: str) -> bool:
    name = key.split(".")[-1]
    return any(f"{name}: " in p and bound in p for p in problems(toml_for(key, value)))


@pytest.mark.parametrize(("key", "default", "bound"), RANGES, ids=[r[0] for r in RANGES])
def test_readme_ranges_and_defaults_are_the_schemas(key: str, default: str, bound: str) -> None:
    assert setting(loads(toml_for(key)), key) == float(default)
    if m := re.fullmatch(r"(\d+)–(\d+)", bound):
        low, high = int(m[1]), int(m[2])
        assert setting(loads(toml_for(key, low)), key) == low
        assert setting(loads(toml_for(key, high)), key) == high
        assert refused(key, low - 1, f"greater than or equal to {low}")
        assert refused(key, high + 1, f"less than or equal to {high}")
    elif m := re.fullmatch(r"≥ (\d+)", bound):
        low = int(m[1])
        assert setting(loads(toml_for(key, low)), key) == low
        assert refused(key, low - 1, f"greater than or equal to {low}")
    else:
        assert bound == "> 0"
        assert setting(loads(toml_for(key, 0.001)), key) == 0.001
        assert refused(key, 0, "greater than 0")


# -- durations -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("15m", 900), ("6h", 21600), ("1d", 86400), ("2w", 1209600), (" 5 m ", 300)],
)
def test_duration_units(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


def test_duration_numbers_are_seconds_and_never_negative() -> None:
    assert parse_duration(0) == 0
    assert parse_duration(45) == 45
    with pytest.raises(ValueError, match="must not be negative"):
        parse_duration(-1)
    for bad in ("15", "1y", "m", "-5m", "1.5h"):
        with pytest.raises(ValueError, match="not a duration like 30s"):
            parse_duration(bad)


def test_duration_settings_read_both_forms() -> None:
    config = loads('[admin]\nalert_interval = "2h"\n[store]\nbusy_timeout = 250\n')
    assert (config.admin.alert_interval, config.store.busy_timeout) == (7200, 250)
    assert any(
        p.startswith("store.busy_timeout: ") for p in problems("[store]\nbusy_timeout = -1\n")
    )


def test_a_job_runs_every_10_seconds_at_least() -> None:
    job = '[schedule.jobs.x]\nkind = "build_feeds"\nevery = "{}"\n'
    assert loads(job.format("10s")).schedule.jobs["x"].every == 10
    assert any("at least 10s" in p for p in problems(job.format("9s")))


def test_a_job_with_both_triggers_is_refused() -> None:
    toml = '[schedule.jobs.x]\nkind = "build_feeds"\nevery = "1h"\ncron = "0 7 * * mon"\n'
    assert any("give exactly one trigger" in p for p in problems(toml))


def test_job_names_and_their_source() -> None:
    assert any(
        "job name 'X'" in p for p in problems('[schedule.jobs.X]\nkind = "cleanup"\nevery = 60\n')
    )
    toml = '[schedule.jobs.c]\nkind = "crawl"\nevery = "1h"\nsource = "nope"\n'
    assert any("schedule.jobs.c.source: no source named 'nope'" in p for p in problems(toml))
    ok = FEED_SOURCE + '[schedule.jobs.c]\nkind = "crawl"\nevery = "1h"\nsource = "s"\n'
    assert loads(ok).schedule.jobs["c"].source == "s"


# -- values ----------------------------------------------------------------------


def test_urls_lose_their_trailing_slash_and_need_a_host() -> None:
    assert loads('[site]\nurl = "https://a.vn/"\n').site.url == "https://a.vn"
    assert any("not an http(s) URL" in p for p in problems('[site]\nurl = "https://"\n'))
    assert loads('[site]\nurl = "http://a.vn"\n').site.tag_authority == "a.vn"


def test_email_addresses_are_trimmed_and_checked() -> None:
    assert loads('[mail]\nfrom_address = " a@b.vn "\n').mail.from_address == "a@b.vn"
    for bad in ("a b@c.vn", "a@b", "a@-b.vn", "<a@b.vn>", "a@b.vn\\nBcc: x@y.vn"):
        assert any("not an email address" in p for p in problems(f'[mail]\nreply_to = "{bad}"\n'))


def test_trusted_proxies_are_addresses_or_networks() -> None:
    config = loads('[web]\ntrusted_proxies = [" 127.0.0.1 ", "10.0.0.0/8", "::1"]\n')
    assert config.web.trusted_proxies == ["127.0.0.1", "10.0.0.0/8", "::1"]
    assert any(
        p.startswith("web.trusted_proxies[1]: not an IP address or CIDR")
        for p in problems('[web]\ntrusted_proxies = ["::1", "nginx"]\n')
    )


def test_category_names_slugs_and_digest_slug_paths() -> None:
    assert any("must not be empty" in p for p in problems('[[categories]]\npath = ["A", " "]\n'))
    ok = loads('[[categories]]\npath = ["A"]\nslug = "tin-tuc-2"\n')
    assert ok.categories[0].slug == "tin-tuc-2"
    for bad in ("-tin", "tin-", "tin--tuc", "tin_tuc"):
        assert any(
            "must be lower-case" in p
            for p in problems(f'[[categories]]\npath = ["A"]\nslug = "{bad}"\n')
        )
    ok_digest = loads('[digest]\ncategories = ["a-b/c-d"]\n')
    assert ok_digest.digest.categories == ["a-b/c-d"]
    assert any(
        "not a category slug path" in p for p in problems('[digest]\ncategories = ["a//b"]\n')
    )


def test_each_source_kind_needs_its_setting() -> None:
    assert any(
        "a feed source needs url" in p for p in problems('[[sources]]\nname = "f"\nkind = "feed"\n')
    )
    assert any(
        "a directory source needs path" in p
        for p in problems('[[sources]]\nname = "d"\nkind = "directory"\n')
    )
    site = '[[sources]]\nname = "w"\nkind = "site"\nlisting_urls = ["https://a.vn/l"]\n'
    assert loads(site).sources[0].kind == "site"
    assert loads('[[sources]]\nname = "d"\nkind = "directory"\npath = "in"\n').sources[0].path


def test_source_names_are_unique() -> None:
    assert any("source names must be unique: s" in p for p in problems(FEED_SOURCE + FEED_SOURCE))


def test_a_pagination_pattern_must_compile() -> None:
    toml = FEED_SOURCE + 'pagination_pattern = "(["\n'
    assert any("pagination_pattern: invalid regular expression" in p for p in problems(toml))


def test_problem_messages() -> None:
    [missing] = problems('[[digest.sections]]\nkeywords = ["a"]\n')
    assert missing == "digest.sections[0].title: required key is missing"
    [typed] = problems('[feeds]\nitems = "many"\n')
    assert typed.startswith("feeds.items: ") and typed.endswith("(got 'many')")
    [odd] = problems('[site]\n"tít le" = "x"\n')
    assert odd == 'site."t\\u00edt le": unknown key (check its spelling and section)'
    [top] = problems("nonsense = 1\n")
    assert top == "nonsense: unknown key (check its spelling and section)"


# -- the loader ------------------------------------------------------------------


def test_problems_are_counted_and_the_cron_ones_merged(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        '[feeds]\nitems = 0\n[schedule.jobs.d]\nkind = "send_digest"\ncron = "0 25 * * *"\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as info:
        load(path)
    err = info.value
    assert err.message.startswith(f"{path.resolve()}: 2 problems: feeds.items: ")
    assert [p.split(":")[0] for p in err.problems] == ["feeds.items", "schedule.jobs.d.cron"]
    assert err.hint == "fix each key named above; `tgfeed check` lists them"


def test_cron_problems_are_sorted_by_job_name() -> None:
    toml = (
        '[schedule.jobs.b]\nkind = "cleanup"\ncron = "0 99 * * *"\n'
        '[schedule.jobs.a]\nkind = "cleanup"\ncron = "99 0 * * *"\n'
    )
    assert [p.split(":")[0] for p in problems(toml)] == [
        "schedule.jobs.a.cron",
        "schedule.jobs.b.cron",
    ]


def test_cron_check_skips_what_the_schema_already_refused() -> None:
    assert _cron_only({"schedule": {"jobs": {"x": {"cron": "0 7 * *"}}}}) == []
    assert _cron_only({"schedule": {"jobs": {"x": {"cron": 5}}}}) == []
    assert _cron_only({"schedule": {"jobs": {"x": "weekly"}}}) == []
    assert _cron_only({"schedule": {"jobs": "x"}}) == []
    assert _cron_only({"schedule": "weekly"}) == []
    assert _cron_only({"schedule": {"jobs": {"x": {"cron": "0 7 * * funday"}}}}) != []


def _cron_only(data: dict[str, Any]) -> list[str]:
    from tgfeed.loader import _cron_problems

    return _cron_problems(data)


def test_validate_records_the_source_path(tmp_path: Path) -> None:
    assert validate({}).source_path is None
    config = validate({}, source=tmp_path / "c.toml")
    assert config.source_path == tmp_path / "c.toml"
    assert config.base_dir == tmp_path
    assert config.data_dir == tmp_path / "tgfeed-data"
    with pytest.raises(ConfigError, match=r"^config: 1 problem"):
        validate({"feeds": {"items": 0}})


def test_not_utf8_names_the_byte() -> None:
    with pytest.raises(ConfigError) as info:
        loads(b'[site]\ntitle = "H\xf4i"\n')
    assert info.value.message == "config: not UTF-8 (byte 17)"
    assert info.value.hint == "save the file as UTF-8"


def test_syntax_error_names_line_and_column() -> None:
    with pytest.raises(ConfigError) as info:
        loads('[site]\ntitle = "a"\nurl = "https://a.vn\n')
    [problem] = info.value.problems
    assert re.fullmatch(r"config:3:\d+: TOML syntax error: [^(]+", problem), problem
    assert info.value.message == problem


def test_text_and_bytes_load_alike() -> None:
    text = '[site]\ntitle = "Hội nghị"\n'
    assert loads(text) == loads(text.encode()) != Config()


def test_an_unreadable_file_is_one_clear_line(tmp_path: Path) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    with pytest.raises(ConfigError, match=r"folder: cannot read: Is a directory$"):
        load_file(folder)


def test_without_a_path_the_file_in_the_cwd_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TGFEED_CONFIG", raising=False)
    (tmp_path / "config.toml").write_text('[site]\ntitle = "Ở đây"\n', encoding="utf-8")
    config = load()
    assert config.site.title == "Ở đây"
    assert config.source_path == (tmp_path / "config.toml").resolve()


def test_a_missing_file_named_by_the_environment_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TGFEED_CONFIG", str(tmp_path / "gone.toml"))
    with pytest.raises(ConfigError, match=r"gone\.toml: config file not found$"):
        load()


# -- secrets ---------------------------------------------------------------------


def test_a_secret_is_trimmed_and_none_without_a_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert read_secret(None, None, "web.api_token") is None
    monkeypatch.setenv("TGFEED_PIN", "  tok  \n")
    assert read_secret("TGFEED_PIN", None, "web.api_token") == "tok"
    path = tmp_path / "s"
    path.write_text(" from-file \n", encoding="utf-8")
    path.chmod(0o600)
    assert read_secret(None, path, "web.api_token") == "from-file"
    assert read_secret("TGFEED_PIN", path, "web.api_token") == "tok"  # env first


def test_an_unreadable_secret_file_names_it(tmp_path: Path) -> None:
    path = tmp_path / "missing"
    with pytest.raises(ConfigError) as info:
        read_secret(None, path, "mail.smtp.password")
    assert info.value.message.startswith(f"mail.smtp.password: cannot read {path}: ")


# -- defaults that the example and README state ------------------------------------


def test_default_schedule_and_digest() -> None:
    """Without a [schedule]: feeds every 15 min, the digest on Monday 07:00 (caught
    up until 13:00), cleanup at 03:30; the digest's sections and link lifetimes."""
    config = Config()
    jobs = config.schedule.jobs
    assert sorted(jobs) == ["build_feeds", "cleanup", "weekly_digest"]
    assert (jobs["build_feeds"].every, jobs["build_feeds"].misfire_grace) == (900, 900)
    assert (jobs["weekly_digest"].cron, jobs["weekly_digest"].misfire_grace) == (
        "0 7 * * mon",
        6 * 3600,
    )
    assert (jobs["cleanup"].cron, jobs["cleanup"].misfire_grace) == ("30 3 * * *", 6 * 3600)
    assert [s.title for s in config.digest.sections] == ["Hội nghị", "Hoạt động"]
    assert config.digest.enabled is True
    assert config.digest.token_max_age == 8 * 7 * 86400  # "8w"
    assert config.digest.confirm_max_age == 3 * 86400  # "3d"


def test_a_job_defaults_to_an_hour_of_grace_and_no_jitter() -> None:
    job = loads('[schedule.jobs.x]\nkind = "cleanup"\nevery = "1h"\n').schedule.jobs["x"]
    assert (job.misfire_grace, job.jitter, job.enabled) == (3600, 0, True)


def test_the_digest_can_be_turned_off() -> None:
    assert loads("[digest]\nenabled = false\n").digest.enabled is False


def test_a_proxy_network_may_have_host_bits_set() -> None:
    config = loads('[web]\ntrusted_proxies = ["10.1.2.3/8"]\n')
    assert config.web.trusted_proxies == ["10.1.2.3/8"]
