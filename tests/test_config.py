from __future__ import annotations

from pathlib import Path

import pytest

from tgfeed.config import Config
from tgfeed.errors import ConfigError
from tgfeed.loader import load, loads

ROOT = Path(__file__).resolve().parents[1]

# Each broken config and the exact dotted path its message must name.
BROKEN = [
    ('[site]\nurl = "ftp://tuyengiaohungyen.vn"\n', "site.url: not an http(s) URL"),
    ('[site]\ntimezone = "Asia/Hanoi_City"\n', "site.timezone: unknown timezone"),
    ('[site]\ntitel = "x"\n', "site.titel: unknown key"),
    ("[feeds]\nitems = 0\n", "feeds.items: "),
    ('[feeds]\nitems = "many"\n', "feeds.items: "),
    ('[feeds]\ncontent = "partial"\n', "feeds.content: "),
    ('[mail]\nbackend = "sendmail"\n', "mail.backend: "),
    ('[mail.smtp]\npassword = "hunter2"\n', "mail.smtp.password: secrets never go in the TOML"),
    ("[mail.smtp]\nport = 70000\n", "mail.smtp.port: "),
    ("[mail.smtp]\nstarttls = true\ntls = true\n", "mail.smtp: choose one of starttls"),
    ('[mail]\nfrom_address = "not-an-address"\n', "mail.from_address: not an email address"),
    ('[digest]\ncategories = ["Tin tức"]\n', "digest.categories: "),
    (
        '[schedule.jobs.digest]\nkind = "send_digest"\ncron = "0 7 * * funday"\n',
        "schedule.jobs.digest.cron: invalid cron",
    ),
    (
        '[schedule.jobs.digest]\nkind = "send_digest"\ncron = "0 7 * *"\n',
        "schedule.jobs.digest.cron: cron '0 7 * *' must have 5 fields",
    ),
    ('[schedule.jobs.x]\nkind = "launch_rockets"\nevery = "1h"\n', "schedule.jobs.x.kind: "),
    ('[schedule.jobs.x]\nkind = "build_feeds"\n', "schedule.jobs.x: give exactly one trigger"),
    (
        '[schedule.jobs.x]\nkind = "build_feeds"\nevery = "often"\n',
        "schedule.jobs.x.every: not a duration",
    ),
    ('[schedule]\ntimezone = "Mars/Olympus"\n', "schedule.timezone: unknown timezone"),
    ('[web]\napi_token = "abc"\n', "web.api_token: secrets never go in the TOML"),
    ("[[categories]]\npath = []\n", "categories[0].path: "),
    ('[[categories]]\npath = ["Tin"]\nslug = "Tin Tức"\n', "categories[0].slug: "),
    ('[[sources]]\nname = "site"\nkind = "site"\n', "sources[0]: a site source needs listing_urls"),
    (
        '[[sources]]\nname = "x"\nkind = "feed"\nurl = "https://a.vn/rss"\narticle_pattern = "(["\n',
        "sources[0].article_pattern: invalid regular expression",
    ),
    ('[admin]\nalert_to = ["it@"]\n', "admin.alert_to[0]: not an email address"),
]


@pytest.mark.parametrize(("toml", "expected"), BROKEN)
def test_broken_config_names_its_path(toml: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        loads(toml)
    assert any(p.startswith(expected) for p in info.value.problems), info.value.problems


def test_every_problem_is_reported_at_once() -> None:
    toml = '[site]\nurl = "x"\n[feeds]\nitems = -1\n[mail]\nbackend = "pigeon"\n'
    with pytest.raises(ConfigError) as info:
        loads(toml)
    paths = sorted(p.split(":")[0] for p in info.value.problems)
    assert paths == ["feeds.items", "mail.backend", "site.url"]


def test_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[site]\ntitle = "a"\nurl = "https://a.vn\n', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load(path)
    assert f"{path.resolve()}:3:" in info.value.problems[0]


def test_example_config_loads() -> None:
    config = load(ROOT / "config.example.toml")
    assert config.site.timezone == "Asia/Ho_Chi_Minh"
    assert "tuyengiaohungyen.vn" in config.site.attribution
    assert config.schedule.jobs  # the example schedules jobs
    assert config.categories


def test_no_file_means_embedded_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TGFEED_CONFIG", raising=False)
    config = load()
    assert config == Config()
    assert config.resolve(config.store.path) == tmp_path / "tgfeed-data" / "tgfeed.db"
    assert config.mail.backend == "outbox"


def test_explicit_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load(tmp_path / "nope.toml")


def test_env_var_selects_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "x.toml"
    path.write_text('[site]\ntitle = "Thử"\n', encoding="utf-8")
    monkeypatch.setenv("TGFEED_CONFIG", str(path))
    assert load().site.title == "Thử"


def test_secrets_come_from_env_or_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "pw"
    secret.write_text("s3cret\n", encoding="utf-8")
    secret.chmod(0o600)
    config = loads(f'[mail.smtp]\npassword_file = "{secret}"\n')
    assert config.mail.smtp.password() == "s3cret"
    config = loads('[web]\napi_token_env = "TGFEED_TEST_TOKEN"\n')
    with pytest.raises(ConfigError, match="TGFEED_TEST_TOKEN is not set"):
        config.web.api_token()
    monkeypatch.setenv("TGFEED_TEST_TOKEN", "abc")
    assert config.web.api_token() == "abc"


def test_relative_paths_follow_the_config_file(tmp_path: Path) -> None:
    path = tmp_path / "etc" / "config.toml"
    path.parent.mkdir()
    path.write_text('[store]\npath = "db/x.db"\n', encoding="utf-8")
    config = load(path)
    assert config.resolve(config.store.path) == path.parent.resolve() / "db" / "x.db"
