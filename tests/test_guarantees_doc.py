"""docs/guarantees.md names a test for every promise: each one it names exists."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "guarantees.md"
# `test_x.py::test_name`, `::test_name` (same file as the last one named), `…[case-id]`
REF = re.compile(r"`(test_\w+\.py)?(?:::…?(\w+)?)?(?:\[([\w-]+)\])?`|…\[([\w-]+)\]")


def _test_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        n.name
        for n in ast.walk(tree)
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name.startswith("test")
    }


def test_every_test_the_guarantees_name_exists() -> None:
    text = DOC.read_text(encoding="utf-8")
    current: Path | None = None
    checked = 0
    missing = []
    for m in REF.finditer(text):
        file, name, case, bare_case = m.groups()
        if file:
            current = Path(__file__).parent / file
            if not current.exists():
                missing.append(file)
                continue
        if name:
            assert current is not None, f"::{name} before any file"
            if name not in _test_names(current):
                missing.append(f"{current.name}::{name}")
            checked += 1
        case = case or bare_case
        if case and current is not None and f'"{case}"' not in current.read_text(encoding="utf-8"):
            missing.append(f"{current.name}[{case}]")
    assert not missing, missing
    assert checked >= 80, checked
