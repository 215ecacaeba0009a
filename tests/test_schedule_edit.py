"""Editing [schedule] with tomlkit: comments and every other section stay byte for
byte; a job from the built-in defaults gets its own table; other sections are refused."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tgfeed.errors import ConfigError
from tgfeed.loader import loads
from tgfeed.schedule_edit import JobEdit, edit_job, replace_section, save, section_text

from .conftest import FIXED_NOW
from .test_admin_screens import SCHEDULE

HEAD = SCHEDULE[: SCHEDULE.index("[schedule]")]


def test_the_section_round_trips_and_the_rest_is_untouched() -> None:
    section = section_text(SCHEDULE)
    assert section.startswith("[schedule]\n") and "# Bản tin thứ Hai" in section
    assert replace_section(SCHEDULE, section) == SCHEDULE
    changed = replace_section(SCHEDULE, section.replace('every = "15m"', 'every = "1h"'))
    assert changed.startswith(HEAD) and 'every = "1h"' in changed


def test_a_job_edit_switches_the_trigger_kind_and_the_switch() -> None:
    config = loads(SCHEDULE)
    text = edit_job(SCHEDULE, config, JobEdit("build_feeds", "cron", "*/5 * * * *", False))
    job = loads(text).schedule.jobs["build_feeds"]
    assert (job.cron, job.every, job.enabled) == ("*/5 * * * *", None, False)
    assert text.startswith(HEAD) and "# 7 giờ sáng thứ Hai" in text


def test_a_default_job_gets_its_own_table() -> None:
    bare = "# chỉ có chú thích\n"
    config = loads(bare)
    assert "weekly_digest" in config.schedule.jobs  # from the built-in defaults
    text = edit_job(bare, config, JobEdit("weekly_digest", "cron", "0 6 * * mon", True))
    assert text.startswith(bare)
    assert loads(text).schedule.jobs["weekly_digest"].cron == "0 6 * * mon"


def test_only_the_schedule_section_can_be_replaced() -> None:
    with pytest.raises(ConfigError, match=r"^web: only the \[schedule\] section"):
        replace_section(SCHEDULE, "[web]\nport = 9000\n")
    with pytest.raises(ConfigError, match=r"^schedule: not valid TOML"):
        replace_section(SCHEDULE, "[schedule\n")


def test_save_keeps_a_dated_backup_and_the_mode(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(SCHEDULE, encoding="utf-8")
    path.chmod(0o640)
    backup = save(path, "# mới\n", now=FIXED_NOW, tz=ZoneInfo("Asia/Ho_Chi_Minh"))
    assert backup.name == "config.toml.20261130-070000.bak"
    assert backup.read_text(encoding="utf-8") == SCHEDULE
    assert path.read_text(encoding="utf-8") == "# mới\n"
    assert path.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name, backup.name]
