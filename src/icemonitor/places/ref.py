"""Reference-file resolver type: maps a path in the shared/data layout to a local file."""

from collections.abc import Callable
from pathlib import Path

Ref = Callable[[str], Path]
