"""The build's stage log: each stage's name, rows in, rows out, wall and CPU seconds, logged as it ends and kept
for the build report (bench/bench_scale.py prints them). CPU is the whole process's (DuckDB's and Polars' threads
too); a stage that runs beside another (parsing the next file while one is inserted) says so in its name."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass

log = logging.getLogger("icemonitor.warehouse.build")


@dataclass
class Stage:
    name: str
    rows_in: int | None = None
    rows_out: int | None = None
    wall: float = 0.0
    cpu: float = 0.0

    def text(self) -> str:
        rows = lambda n: "-" if n is None else f"{n:,}"  # noqa: E731
        return (f"stage {self.name}: {rows(self.rows_in)} rows in, {rows(self.rows_out)} rows out, "
                f"{self.wall:.2f} s wall, {self.cpu:.2f} s CPU")


class StageLog:
    """The stages of one build, in the order they ended."""

    def __init__(self) -> None:
        self.stages: list[Stage] = []

    @contextmanager
    def stage(self, name: str, rows_in: int | None = None) -> Iterator[Stage]:
        s = Stage(name, rows_in)
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            yield s
        finally:
            s.wall, s.cpu = time.perf_counter() - wall, time.process_time() - cpu
            self.stages.append(s)
            log.info("%s", s.text())

    def add(self, s: Stage) -> None:
        """A stage timed elsewhere (a parse in its worker thread)."""
        self.stages.append(s)
        log.info("%s", s.text())

    def as_dicts(self) -> list[dict]:
        return [asdict(s) for s in self.stages]
