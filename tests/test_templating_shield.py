"""Every ``{{ value }}`` of an HTML template is escaped exactly once, and a value
that starts with combining marks has them written as character references, so the
first can never compose with the ``>`` of the tag before it (``>`` + U+0338 is
``≯`` in NFC). Text templates (``*.txt.j2``) are not escaped."""

from __future__ import annotations

import unicodedata

import jinja2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markupsafe import Markup, escape

from tgfeed.templating import make_env
from tgfeed.text import escape_marks


def _html(env: jinja2.Environment, value: object) -> str:
    return env.from_string("<b>{{ v }}</b>").render(v=value)


@pytest.fixture(scope="module")
def env() -> jinja2.Environment:
    env = make_env()
    env.autoescape = True  # from_string templates have no name
    return env


@pytest.mark.parametrize(
    ("value", "html"),
    [
        ("Hội nghị", "<b>Hội nghị</b>"),
        ("a < b & \"c\" 'd'", "<b>a &lt; b &amp; &#34;c&#34; &#39;d&#39;</b>"),
        ("\u0338 onclick=alert(1)", "<b>&#x338; onclick=alert(1)</b>"),
        ("\u0301\u0323<x>", "<b>&#x301;&#x323;&lt;x&gt;</b>"),
        ("a\u0301", "<b>a\u0301</b>"),  # a mark after a letter stays a character
        ("", "<b></b>"),
        (2026, "<b>2026</b>"),
        (Markup("<i>đã</i>"), "<b><i>đã</i></b>"),
    ],
)
def test_each_value_is_escaped_once_with_leading_marks_as_references(
    env: jinja2.Environment, value: object, html: str
) -> None:
    assert _html(env, value) == html


class _Html:
    """Not Markup, but has ``__html__`` (escape() trusts it)."""

    def __html__(self) -> str:
        return "\u0338<i>x</i>"


class _Blank:
    def __str__(self) -> str:
        return ""


def test_a_value_that_prints_as_nothing(env: jinja2.Environment) -> None:
    assert _html(env, _Blank()) == "<b></b>"


def test_an_html_object_is_trusted_but_its_leading_mark_is_not(env: jinja2.Environment) -> None:
    assert _html(env, _Html()) == "<b>&#x338;<i>x</i></b>"


@settings(deadline=None)  # a loaded machine must not fail it on time
@given(st.text(alphabet="a<>&\"'\u0300\u0338\u20d2đ ", max_size=8))
def test_the_same_as_escape_then_escape_marks(value: str) -> None:
    env = make_env()
    env.autoescape = True
    out = _html(env, value)
    assert out == f"<b>{escape_marks(str(escape(value)))}</b>"
    assert not unicodedata.normalize("NFC", out).startswith("<b\u226f")  # never composed


def test_text_templates_are_not_escaped() -> None:
    env = make_env()
    env.autoescape = False
    assert env.from_string("{{ v }}").render(v="\u0338<a & b>") == "\u0338<a & b>"
