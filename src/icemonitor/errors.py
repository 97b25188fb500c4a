"""Errors that name the file, row and field of bad input."""

from __future__ import annotations

from icemonitor.messages import Message, msg


class IcemonitorError(Exception):
    """Base class for errors shown to the user without a traceback (one line, then `hint` when there is one: a
    message, said in the command's language)."""

    hint: str | None = None


class NoWarehouse(IcemonitorError):
    """The warehouse file does not exist yet."""

    hint = msg("run `icemonitor fetch` then `icemonitor build`, or set ICEMONITOR_HOME to the folder that holds "
               "warehouse.duckdb")


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
        super().__init__(self.render("en"))

    def render(self, lang: str) -> str:
        """The error and where it is (file, row, field, value) in `lang`: a message in its translation, other
        text as written."""
        return self.as_message().render(lang)

    def as_message(self) -> Message:
        """The error and where it is as one message (e.g. a parameter of another error's message)."""
        where = [w for w in (
            None if self.file is None else msg("file {file}", file=self.file),
            None if self.row is None else msg("row {row}", row=self.row),
            None if self.field is None else msg("field {field!r}", field=self.field),
            None if self.value is None else msg("value {value!r}", value=self.value)) if w is not None]
        if not where:
            return msg("{error}", error=self.message)
        return msg("{error} ({where})", error=self.message, where=where)


def error_message(err: Exception) -> Message | str:
    """An error as a message parameter: its message (with where it is, for an input error), said in the reader's
    language; other errors (e.g. the network's) as written."""
    if isinstance(err, InputError):
        return err.as_message()
    return err.args[0] if len(err.args) == 1 and isinstance(err.args[0], Message) else str(err)


class UnknownCodeError(InputError):
    """A raw value that no code map knows: the build stops."""


class ChecksumError(InputError):
    """A file whose SHA-256 does not match the catalog."""
