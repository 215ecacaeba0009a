"""sqlite-utils, imported without numpy and pandas.

When they are installed, sqlite-utils imports both at its own import, only to map
their number and timestamp types to column types; the store never hands it such
values, and they cost every tgfeed command about a quarter of a second of start-up.
They are hidden while sqlite-utils loads (so it finds them missing), then shown
again: anything else in the process imports them as usual.
"""

from __future__ import annotations

import sys

_HIDDEN = tuple(m for m in ("numpy", "pandas") if m not in sys.modules)
for _name in _HIDDEN:
    sys.modules[_name] = None  # type: ignore[assignment]  # makes `import numpy` fail
try:
    import sqlite_utils
    from sqlite_utils import Migrations
finally:
    for _name in _HIDDEN:
        if sys.modules.get(_name, sys) is None:
            del sys.modules[_name]

__all__ = ["Migrations", "sqlite_utils"]
