"""Shared by the fuzz tests: how many examples to run, and a small TOML writer.

``TGFEED_FUZZ_EXAMPLES=10000 pytest tests/test_fuzz_*.py`` runs every fuzz target
with 10,000 examples (the nightly / bench mode); without it each target runs the
small CI number given at its definition.
"""

from __future__ import annotations

import json
import math
import os
from datetime import date, datetime, time
from typing import Any

from hypothesis import HealthCheck, settings

FUZZ_EXAMPLES = int(os.environ.get("TGFEED_FUZZ_EXAMPLES") or 0)


def fuzz_settings(ci_examples: int) -> Any:
    """Hypothesis settings: ``ci_examples`` by default, ``$TGFEED_FUZZ_EXAMPLES`` when set."""
    return settings(
        max_examples=FUZZ_EXAMPLES or ci_examples,
        deadline=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
            HealthCheck.function_scoped_fixture,
        ],
        print_blob=True,
    )


def toml_value(value: Any) -> str:
    """One TOML value, inline (inline tables and arrays nest)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(type(value))


def toml_key(key: str) -> str:
    return json.dumps(key, ensure_ascii=False)


def toml_document(data: dict[str, Any]) -> str:
    """A document of top-level ``key = value`` lines (tables inline)."""
    return "".join(f"{toml_key(k)} = {toml_value(v)}\n" for k, v in data.items())


# Characters that change meaning under normalisation or display, added to the
# fragments of every fuzz target (tests/test_security_unicode.py explains why):
# combining marks (U+0338 composes ">" into "≯", "<" into "≮", "=" into "≠"),
# fullwidth and compatibility look-alikes of markup, and bidi controls.
COMBINING = [chr(c) for c in range(0x300, 0x370)] + ["\u0338", "\u20d2", "\u20e5", "\u0489"]
LOOKALIKES = [
    "\uff1c",  # ＜ fullwidth less-than (NFKC: <)
    "\uff1e",  # ＞
    "\uff02",  # ＂
    "\uff07",  # ＇
    "\uff1d",  # ＝
    "\ufe64",  # ﹤ small less-than
    "\ufe65",  # ﹥
    "\u2039\u203a",  # ‹ ›
    "\u02c2\u02c3",  # ˂ ˃ modifier arrows
    "\ufb01",  # ﬁ ligature
    "\u2460",  # ① circled digit
    "\u1e9b\u0323",  # ẛ̣ (NFC and NFKC differ)
    "\uff4a\uff41\uff56\uff41\uff53\uff43\uff52\uff49\uff50\uff54\uff1a",  # ｊａｖａｓｃｒｉｐｔ：
]
BIDI = ["\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068"]
BIDI += ["\u2069", "\u200e", "\u200f", "\u061c"]
UNICODE_FRAGMENTS = [
    *COMBINING,
    *LOOKALIKES,
    *BIDI,
    "\u0338 onmouseover=alert(1) style=position:fixed;inset:0 x=",
    "<p>\u0338 onclick=alert(1) x=</p>",
    "<a href='https://tuyengiaohungyen.vn/'>\u0338 onclick=alert(1) x=</a>",
    '<img src="https://tuyengiaohungyen.vn/a.jpg" alt="\u0338 x">\u0338',
    "&#x338; onmouseover=alert(1)",
    "<b>&#824;\u20d2 onfocus=alert(1) autofocus x=</b>",
    "=\u0338 <\u0338 >\u0338",
]
