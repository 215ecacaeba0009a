"""Where things are when the config does not say: the config file, the data folder,
the packaged templates. Standard library only: the config schema (``config_fields``)
and the no-change check of `tgfeed build` (``nochange``, which runs before pydantic
is imported) read them from here."""

from __future__ import annotations

from pathlib import Path

from .errors import RenderError

ENV_VAR = "TGFEED_CONFIG"
DEFAULT_FILE = "config.toml"
DEFAULT_DATA_DIR = "tgfeed-data"
DEFAULT_OUTPUT_DIR = Path(DEFAULT_DATA_DIR) / "public"  # [feeds] output_dir
DEFAULT_STORE = Path(DEFAULT_DATA_DIR) / "tgfeed.db"  # [store] path


def package_templates() -> Path:
    """The default templates: inside the wheel, or the repository's top-level folder."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "templates", here.parents[1] / "templates"):
        if candidate.is_dir():
            return candidate
    raise RenderError("the packaged templates are missing", hint="reinstall tgfeed")
