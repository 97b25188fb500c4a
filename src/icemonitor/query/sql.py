"""Parameterised SQL pieces: a WHERE clause built part by part."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class Where:
    """A parameterised WHERE clause built piece by piece."""

    parts: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)

    def add(self, sql: str, *params: Any) -> "Where":
        self.parts.append(sql)
        self.params.extend(params)
        return self

    def sql(self) -> str:
        return " AND ".join(f"({p})" for p in self.parts) if self.parts else "TRUE"

    def copy(self) -> "Where":
        return Where(list(self.parts), list(self.params))


def in_list(column: str, values: list[Any] | tuple[Any, ...]) -> tuple[str, list[Any]]:
    """`column IN (?, ...)` and its parameters (FALSE for no values)."""
    if not values:
        return "FALSE", []
    return f"{column} IN ({', '.join('?' * len(values))})", list(values)
