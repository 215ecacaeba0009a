"""A folder where editors or scripts drop article files (.html/.txt pages, .jsonl, .csv).

Each file is ingested once: the store remembers its path and content hash, so
a later run skips it unless its content changed. Files being written should be
dropped atomically (written under a temporary name, then renamed): names
starting with ``.`` or ``~`` and ending in ``.part``, ``.tmp``, ``.crdownload``
or ``~`` are ignored until they are renamed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path
from zoneinfo import ZoneInfo

from ..config import SourceConfig
from ..errors import IngestError
from ..importers import read_path
from ..model import Article

Item = tuple[str, Article | IngestError]

_TEMP_SUFFIXES = (".part", ".tmp", ".crdownload", ".swp", "~")


@dataclass(frozen=True, slots=True)
class DroppedFile:
    path: Path
    key: str  # the path relative to the folder, with forward slashes
    size: int
    sha256: str


def _ignored(rel: Path) -> bool:
    return any(part.startswith((".", "~")) for part in rel.parts) or rel.name.lower().endswith(
        _TEMP_SUFFIXES
    )


def scan(folder: Path, remembered: dict[str, tuple[int, str]]) -> list[DroppedFile]:
    """Files of ``folder`` (recursively, sorted) that are new or changed since ingested."""
    if not folder.is_dir():
        raise IngestError(
            f"{folder}: the drop folder does not exist",
            hint="create it or fix the source's path",
        )
    found: list[DroppedFile] = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if _ignored(rel) or not path.is_file():
            continue
        try:
            data = path.read_bytes()
        except OSError:
            continue  # vanished or unreadable now; the next run sees it again
        key = rel.as_posix()
        digest = hashlib.sha256(data).hexdigest()
        if remembered.get(key) == (len(data), digest):
            continue
        found.append(DroppedFile(path, key, len(data), digest))
    return found


def read_file(
    dropped: DroppedFile, source: SourceConfig, site_url: str, tz: ZoneInfo
) -> list[Item]:
    """The file's items (through ``importers.read_path``), filed under the source's category."""
    items: list[Item] = []
    for label, item in read_path(dropped.path, site_url, tz):
        if isinstance(item, Article) and source.category:
            item = replace(item, category=tuple(source.category), category_slugs=None)
        items.append((label, item))
    return items
