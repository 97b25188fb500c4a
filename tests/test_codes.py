"""The encoder: known codes map, redactions become NULL with a flag, unknown values stop with their location."""

from __future__ import annotations

import csv
from datetime import date

import polars as pl
import pytest

from icemonitor.codes.encoder import encode
from icemonitor.codes.maps import DATA, load_maps
from icemonitor.errors import UnknownCodeError
from icemonitor.warehouse.schema import table


def frame(**cols) -> pl.DataFrame:
    n = len(next(iter(cols.values())))
    base = {"source_file": ["f.csv"] * n, "source_row": list(range(7, 7 + n))}
    return pl.DataFrame({**base, **cols})


def test_known_values_map_and_raw_values_stay():
    df = frame(
        aor_raw=["Los Angeles Area of Responsibility", "", "Seattle Area of Responsibility"],
        method_raw=["Located", "CAP Local Incarceration", "ERO Reprocessed Arrest"],
        operation_raw=["(B)(7)(E) ", None, "6B8 - SAFE CITIES"],
        event_date=[date(2017, 9, 24)] * 3,
    )
    out = encode(df, table("arrests"))
    assert out["aor"].to_list() == ["LOS", None, "SEA"]
    assert out["method_class"].to_list() == ["at_large", "custodial", "other"]
    assert out["operation"].to_list() == [None, None, "6B8 - SAFE CITIES"]
    assert out["operation_raw"].to_list() == ["(B)(7)(E) ", None, "6B8 - SAFE CITIES"]
    assert out["redacted"].to_list() == [["operation"], [], []]
    assert out["criminality"].to_list() == ["unknown"] * 3  # not recorded in this release


def test_unknown_method_names_file_row_field_value():
    df = frame(aor_raw=["Seattle Area of Responsibility"] * 2, method_raw=["Located", "Teleportation"])
    with pytest.raises(UnknownCodeError) as exc:
        encode(df, table("arrests"))
    msg = str(exc.value)
    assert "f.csv" in msg and "row 8" in msg and "method_raw" in msg and "Teleportation" in msg


def test_unknown_aor_stops():
    df = frame(aor_raw=["Atlantis Area of Responsibility"], method_raw=["Located"])
    with pytest.raises(UnknownCodeError, match="Atlantis"):
        encode(df, table("arrests"))


def test_redaction_markers_in_text_columns_become_null_with_flag():
    df = frame(
        aor_raw=["Seattle Area of Responsibility"] * 2,
        gender=["Male", "(b)(6), (b)(7)(c)"],
        disposition=["(b)(6), (b)(7)(c)", "Other"],
    )
    out = encode(df, table("arrests"))
    assert out["gender"].to_list() == ["Male", None]
    assert out["disposition"].to_list() == [None, "Other"]
    assert sorted(out["redacted"].to_list()[0]) == ["disposition"]
    assert out["redacted"].to_list()[1] == ["gender"]


def test_redacted_lists_every_combination_of_markers_in_column_order():
    """Each row's `redacted` names exactly its columns that held a marker, in the table's column order then
    operation (checked against a per-row computation), whatever the mix of rows."""
    marker = "(b)(6), (b)(7)(c)"
    cols = {"disposition": [], "gender": [], "citizenship": [], "operation_raw": []}
    for n in range(16):  # every combination of the four, twice over in a shuffled order
        for j, c in enumerate(cols):
            cols[c].append(marker if n >> j & 1 else None if n % 3 == 0 else "x")
    cols = {c: v[5:] + v[:5] + v for c, v in cols.items()}
    df = frame(aor_raw=["Seattle Area of Responsibility"] * 32, **cols)
    out = encode(df, table("arrests"))
    order = [c.name for c in table("arrests").columns if c.name in ("disposition", "gender", "citizenship")]
    expected = [[c for c in order if df[c][i] == marker] + (["operation"] if df["operation_raw"][i] == marker else [])
                for i in range(df.height)]
    assert out["redacted"].to_list() == expected
    assert encode(df.filter(pl.col("gender").is_null()), table("arrests"))["redacted"].to_list() == [
        e for e, g in zip(expected, df["gender"]) if g is None]


def test_unlisted_redaction_marker_stops():
    df = frame(aor_raw=["Seattle Area of Responsibility"], citizenship=["(b)(7)(F)"])
    with pytest.raises(UnknownCodeError, match="redaction marker"):
        encode(df, table("arrests"))


def test_criminality_by_field_wildcard_and_coverage():
    df = frame(
        aor_raw=["Seattle Area of Responsibility"] * 4,
        criminality_field=["seattle_most_serious_conviction"] * 4,
        criminality_raw=["Assault", None, None, "Larceny"],
        event_date=[date(2016, 1, 5), date(2016, 1, 5), date(2013, 1, 5), date(2013, 1, 5)],
    )
    out = encode(df, table("arrests"))
    # MSC was not recorded before FY2015: blank and even a value then are 'unknown'
    assert out["criminality"].to_list() == ["convicted", "no_record", "unknown", "unknown"]


def test_removals_threat_level_proxy_and_unknown_value():
    df = frame(
        criminality_field=["removals_threat_level"] * 2,
        criminality_raw=["(B)(7)(E) ", "NA"],
        event_date=[date(2017, 1, 1)] * 2,
    )
    out = encode(df, table("removals"))
    assert out["criminality"].to_list() == ["convicted", "no_record"]
    bad = frame(criminality_field=["ddp_apprehension_criminality"], criminality_raw=["4 Unheard Of"])
    with pytest.raises(UnknownCodeError, match="4 Unheard Of"):
        encode(bad, table("arrests"))


def test_every_map_row_is_well_formed():
    classes = {"custodial", "at_large", "other", ""}
    with (DATA / "apprehension_methods.csv").open() as fh:
        assert {r["method_class"] for r in csv.DictReader(fh)} <= classes
    maps = load_maps()
    assert set(maps.criminality.values()) <= {"convicted", "pending_charges", "no_record", "unknown"}
    assert {f for f, _ in maps.criminality} <= set(maps.criminality_fields)
    assert all(len(code) in (2, 3) for code in maps.aor.values() if code)
