"""Errors that name the file, row and field of bad input."""

from __future__ import annotations


class IcemonitorError(Exception):
    """Base class for errors shown to the user without a traceback (one line, then `hint` when there is one)."""

    hint: str | None = None


class NoWarehouse(IcemonitorError):
    """The warehouse file does not exist yet."""

    hint = "run `icemonitor fetch` then `icemonitor build`, or set ICEMONITOR_HOME to the folder that holds warehouse.duckdb"


class InputError(IcemonitorError):
    """Bad input: names the file, and where known the row, the field and the value."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        row: int | None = None,
        field: str | None = None,
        value: object = None,
        hint: str | None = None,
    ) -> None:
        self.file, self.row, self.field, self.value = file, row, field, value
        self.message = message  # a Message when the text has translations (pages render it in their language)
        if hint is not None:
            self.hint = hint
        where = []
        if file is not None:
            where.append(f"file {file}")
        if row is not None:
            where.append(f"row {row}")
        if field is not None:
            where.append(f"field {field!r}")
        if value is not None:
            where.append(f"value {value!r}")
        super().__init__(f"{message} ({', '.join(where)})" if where else message)


class UnknownCodeError(InputError):
    """A raw value that no code map knows: the build stops."""


class ChecksumError(InputError):
    """A file whose SHA-256 does not match the catalog."""
