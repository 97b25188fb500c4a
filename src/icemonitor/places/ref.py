"""How places code finds reference files: a function from a shared/data-style path to a local file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

Ref = Callable[[str], Path]


def dir_ref(root: Path | str) -> Ref:
    """A Ref reading reference files from a folder laid out like shared/data."""
    base = Path(root)
    return lambda p: base / p
