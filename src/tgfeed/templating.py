"""Jinja2 environment: the administrator's ``templates_dir`` in front of the
packaged templates; autoescape everywhere except ``*.txt*`` templates;
StrictUndefined so a typo fails loudly instead of rendering nothing."""

from __future__ import annotations

import textwrap
import unicodedata
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
import jinja2.nodes
import markupsafe

from .defaults import package_templates
from .errors import RenderError
from .text import LOCAL_TZ, WEEKDAYS, escape_marks, format_vi_date, format_vi_datetime, iso_local


def _autoescape(name: str | None) -> bool:
    return not (name or "").endswith((".txt", ".txt.j2"))


@jinja2.pass_eval_context
def _shield(ctx: jinja2.nodes.EvalContext, value: Any) -> Any:
    """Every ``{{ value }}`` of an HTML template: escaped, with a leading combining
    mark as a character reference, so it cannot compose with the tag before it."""
    if not ctx.autoescape or value is None or isinstance(value, markupsafe.Markup):
        return value
    if type(value) is str:
        # The common case: no leading mark. Jinja2 escapes what this returns, so a
        # plain string goes back as it is and is escaped once, not twice.
        if not value or unicodedata.category(value[0])[0] != "M":
            return value
        return markupsafe.Markup(escape_marks(str(markupsafe.escape(value))))  # noqa: S704
    # escape() first: only character references are added to escaped text.
    escaped = markupsafe.escape(value)
    # (str's own indexing: Markup's would wrap the character in a new Markup.)
    if not escaped or unicodedata.category(str.__getitem__(escaped, 0))[0] != "M":
        return escaped  # nothing to add (what escape_marks returns)
    return markupsafe.Markup(escape_marks(str(escaped)))  # noqa: S704


def make_env(templates_dir: Path | None = None, tz: ZoneInfo = LOCAL_TZ) -> jinja2.Environment:
    paths = [str(package_templates())]
    if templates_dir is not None:
        if not templates_dir.is_dir():
            raise RenderError(
                f"templates_dir {templates_dir} is not a folder",
                hint="create it or remove templates_dir from the config",
            )
        paths.insert(0, str(templates_dir))
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(paths),
        autoescape=_autoescape,  # noqa: S701 (escapes all but .txt templates)
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        finalize=_shield,
    )

    def vi_date(value: datetime, weekday: bool = True) -> str:
        return format_vi_date(value, tz, weekday=weekday)

    def vi_datetime(value: datetime) -> str:
        return format_vi_datetime(value, tz)

    def iso(value: datetime) -> str:
        return iso_local(value, tz)

    def vi_day(value: datetime) -> str:
        """``Thứ Năm, 26/11/2026``: a short local date for lists and emails."""
        local = value.astimezone(tz)
        return f"{WEEKDAYS[local.weekday()]}, {local.day}/{local.month}/{local.year}"

    def local_time(value: datetime | str | None) -> str:
        """``30/11/2026 07:00 +07:00``: local time with its offset (console lists)."""
        if value is None or value == "":
            return "—"
        when = datetime.fromisoformat(value) if isinstance(value, str) else value
        local = when.astimezone(tz)
        offset = local.isoformat()[-6:]  # +07:00
        return f"{local.day}/{local.month}/{local.year} {local:%H:%M} {offset}"

    env.filters.update(
        local_time=local_time,
        vi_date=vi_date,
        vi_datetime=vi_datetime,
        iso=iso,
        vi_day=vi_day,
        vi_number=vi_number,
        wrap=wrap,
    )
    return env


def vi_number(value: int) -> str:
    """``12345`` → ``12.345`` (Vietnamese groups thousands with dots)."""
    return f"{value:,}".replace(",", ".")


def wrap(text: str, width: int = 72, indent: str = "", first: str | None = None) -> str:
    """Wrap prose for plain-text templates (emails); never breaks a word or a URL.
    ``first`` replaces ``indent`` on the first line (``"1.  "``)."""
    lines = []
    for i, para in enumerate(text.split("\n")):
        lines.append(
            textwrap.fill(
                para,
                width=width,
                initial_indent=first if first is not None and i == 0 else indent,
                subsequent_indent=indent,
                break_long_words=False,
                break_on_hyphens=False,
            )
        )
    return "\n".join(lines)


def render(env: jinja2.Environment, name: str, /, **context: Any) -> str:
    """``name`` rendered with ``context`` (which may hold a variable called ``name``)."""
    try:
        return env.get_template(name).render(**context)
    except jinja2.TemplateNotFound as exc:
        raise RenderError(f"template {exc.name} not found") from exc
    except jinja2.TemplateError as exc:
        raise RenderError(f"template {name}: {exc}") from exc


# A template's source compiles the same way every time: a long-running process (the
# console's Lịch page, a reload) checks each version of each template once.
_COMPILE_PROBLEMS: dict[tuple[str, str, str], str | None] = {}


def check_templates(env: jinja2.Environment) -> list[str]:
    """Compile every template; the problems, if any. A template whose source was
    already compiled by this process is not compiled again."""
    assert env.loader is not None
    problems = []
    for name in env.list_templates():
        try:
            source, filename, _ = env.loader.get_source(env, name)
        except jinja2.TemplateError as exc:
            problems.append(f"templates/{name}: {exc}")
            continue
        key = (name, filename or "", source)
        if key not in _COMPILE_PROBLEMS:
            try:
                env.compile(source, name, filename)
                _COMPILE_PROBLEMS[key] = None
            except jinja2.TemplateError as exc:
                _COMPILE_PROBLEMS[key] = f"templates/{name}: {exc}"
        problem = _COMPILE_PROBLEMS[key]
        if problem is not None:
            problems.append(problem)
    return problems
