"""Error messages reach the user whole: source values in brackets are not eaten as Rich markup."""

from __future__ import annotations

import pytest
import typer

from icemonitor.cli import fail
from icemonitor.errors import InputError


def test_error_value_in_brackets_is_printed_whole(capsys):
    err = InputError("unknown apprehension method", file="EROArrests_FY2017.csv.gz", row=7, field="Apprehension Method",
                     value="[not_recorded] Local")
    with pytest.raises(typer.Exit) as exit_info:
        fail(err)
    assert exit_info.value.exit_code == 2
    printed = " ".join(capsys.readouterr().err.split())
    assert "[not_recorded] Local" in printed and "EROArrests_FY2017.csv.gz" in printed and "Apprehension Method" in printed
