"""The exclusions data file (<home>/exclusions.csv): release file versions held back, with reason and date.

A row with decision `suspect` keeps that version out of the warehouse (the previous version stays in use).
Change the decision to `accepted` to let the next refresh load it without the disagreement test.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from icemonitor import config
from icemonitor.errors import InputError

FIELDS = ["release_id", "file_name", "sha256", "decision", "reason", "recorded_on", "refresh_id"]
DECISIONS = ("suspect", "accepted")


@dataclass(frozen=True)
class Exclusion:
    release_id: str
    file_name: str
    sha256: str
    decision: str
    reason: str
    recorded_on: str
    refresh_id: str = ""


def exclusions_path(home: Path | None = None) -> Path:
    return (home or config.home()) / "exclusions.csv"


def load(home: Path | None = None) -> dict[tuple[str, str, str], Exclusion]:
    """(release_id, file_name, sha256) -> its exclusion row; empty when the file does not exist."""
    path = exclusions_path(home)
    if not path.exists():
        return {}
    out: dict[tuple[str, str, str], Exclusion] = {}
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = [f for f in FIELDS[:5] if f not in (reader.fieldnames or [])]
        if missing:
            raise InputError(f"exclusions file lacks columns {missing}", file=str(path), row=1)
        for i, row in enumerate(reader, start=2):
            if row["decision"] not in DECISIONS:
                raise InputError(
                    f"decision must be one of {', '.join(DECISIONS)}", file=str(path), row=i, field="decision",
                    value=row["decision"],
                )
            ex = Exclusion(**{f: (row.get(f) or "") for f in FIELDS})
            out[(ex.release_id, ex.file_name, ex.sha256)] = ex
    return out


def record(rows: list[Exclusion], home: Path | None = None) -> Path:
    """Append exclusion rows (writing the header if the file is new)."""
    path = exclusions_path(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not path.exists()
    with path.open("a", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS)
        if new:
            writer.writeheader()
        for ex in rows:
            writer.writerow(ex.__dict__)
    return path


def today() -> str:
    return dt.datetime.now(dt.timezone.utc).date().isoformat()
