"""Bad input: each case is built in tmp_path from a real file and must raise InputError naming file, row, field."""

from __future__ import annotations

import gzip
import io
import zipfile
from pathlib import Path

import pytest

from icemonitor.errors import InputError
from icemonitor.readers import SourceFile, read

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
ICE = SHARED_DATA / "ice"
SEA = ICE / "uwchr-seattle-aor-fy12-19"
NATION_ARRESTS = ICE / "uwchr-ice-enforce-fy16-19" / "EROArrests_FY2016.csv.gz"
SEA_ARRESTS = SEA / "arrests.csv.gz"  # header on line 7: "Arrest Date"|...|"Arrest Method"|"Most Serious Conviction"
SEA_XLSX = SEA / "redacted UW v. DHS - ICE Productions_LESA-STU_FINAL.xlsx"
CAP_XLSX = next(SEA.glob("3_25_19 FOIA 2018-ICFO-36170*.xlsx"))
JOINED = ICE / "uwchr-ddp-wa-joined" / "joined_df_wa.csv"


def _lines(path: Path) -> list[bytes]:
    return gzip.decompress(path.read_bytes()).split(b"\n")


def _write(tmp_path: Path, name: str, data: bytes, *, gz: bool = True) -> Path:
    path = tmp_path / name
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def _read(path: Path, reader: str = "seattle_aor_csv", **options) -> dict:
    return read(SourceFile(path=path, name=path.name, release_id="test", reader=reader, options=options))


def _error(path: Path, reader: str = "seattle_aor_csv", **options) -> InputError:
    with pytest.raises(InputError) as info:
        _read(path, reader, **options)
    assert info.value.file == path.name
    assert path.name in str(info.value)
    return info.value


def test_truncated_gzip(tmp_path: Path) -> None:
    raw = NATION_ARRESTS.read_bytes()
    path = _write(tmp_path, "EROArrests_FY2016.csv.gz", raw[: len(raw) // 2], gz=False)
    err = _error(path, "lesa_nationwide")
    assert "gzip" in str(err)


def test_file_cut_mid_row_after_a_separator(tmp_path: Path) -> None:
    lines = _lines(SEA_ARRESTS)[:200]
    last = lines[-1]
    cut = last[: [i for i, b in enumerate(last) if b == ord("|")][3] + 1]  # 4 of 8 fields
    path = _write(tmp_path, "arrests.csv.gz", b"\n".join([*lines[:-1], cut]))
    err = _error(path)
    assert err.row == 200
    assert "fields" in str(err) and "row 200" in str(err)
    assert err.field == "Apprehension Landmark"  # the first missing field


def test_file_cut_inside_a_quoted_field(tmp_path: Path) -> None:
    lines = _lines(SEA_ARRESTS)[:150]
    last = lines[-1]
    cut = last[: last.index(b'"MEXICO"') + 3] if b'"MEXICO"' in last else last[: last.rindex(b'"')]
    path = _write(tmp_path, "arrests.csv.gz", b"\n".join([*lines[:-1], cut]))
    err = _error(path)
    assert err.row == 150
    assert "quoted" in str(err)


def test_short_row_in_the_middle(tmp_path: Path) -> None:
    lines = _lines(SEA_ARRESTS)
    fields = lines[99].split(b"|")
    lines[99] = b"|".join(fields[:6])  # line 100 loses its last 2 fields
    path = _write(tmp_path, "arrests.csv.gz", b"\n".join(lines))
    err = _error(path)
    assert err.row == 100 and err.field == "Arrest Method"


def test_renamed_required_column(tmp_path: Path) -> None:
    lines = _lines(SEA_ARRESTS)
    assert b'"Arrest Method"' in lines[6]
    lines[6] = lines[6].replace(b'"Arrest Method"', b'"Arrest Mode"')
    path = _write(tmp_path, "arrests.csv.gz", b"\n".join(lines))
    err = _error(path, table="arrests")
    assert err.row == 7 and err.field == "Arrest Method"
    assert "missing or renamed" in str(err)


def test_missing_required_column_nationwide(tmp_path: Path) -> None:
    lines = _lines(NATION_ARRESTS)
    lines[5] = lines[5].replace(b'"Apprehension Date"', b'"Date"')
    path = _write(tmp_path, "EROArrests_FY2016.csv.gz", b"\n".join(lines))
    err = _error(path, "lesa_nationwide")
    assert err.row == 6 and err.field == "Apprehension Date"


def test_header_moved_is_found_by_its_column_names(tmp_path: Path) -> None:
    lines = _lines(SEA_ARRESTS)
    moved = [b'"an extra title"|||||||'] * 3 + lines
    path = _write(tmp_path, "arrests.csv.gz", b"\n".join(moved))
    original = _read(SEA_ARRESTS)["arrests"]
    shifted = _read(path)["arrests"]
    assert shifted.height == original.height
    assert (shifted["source_row"] - original["source_row"]).unique().to_list() == [3]
    assert shifted.drop("source_row").equals(original.drop("source_row"))


def test_header_not_in_the_first_lines(tmp_path: Path) -> None:
    lines = _lines(SEA_ARRESTS)
    moved = [b'"title"|||||||'] * 20 + lines
    path = _write(tmp_path, "arrests.csv.gz", b"\n".join(moved))
    err = _error(path)
    assert "no header found" in str(err)


def test_unparseable_date(tmp_path: Path) -> None:
    lines = _lines(SEA_ARRESTS)
    date_field = lines[49].split(b"|")[0]
    lines[49] = lines[49].replace(date_field, b"31/31/2016", 1)
    path = _write(tmp_path, "arrests.csv.gz", b"\n".join(lines))
    err = _error(path)
    assert (err.row, err.field, err.value) == (50, "Arrest Date", "31/31/2016")


def test_placeholder_event_date_fails_but_secondary_date_does_not(tmp_path: Path) -> None:
    lines = _lines(SEA_ARRESTS)
    lines[59] = lines[59].replace(lines[59].split(b"|")[0], b"1/1/0001", 1)
    path = _write(tmp_path, "arrests.csv.gz", b"\n".join(lines))
    err = _error(path)
    assert (err.row, err.field) == (60, "Arrest Date") and "implausible" in str(err)


def test_empty_files(tmp_path: Path) -> None:
    for name, data, gz in [("empty.csv.gz", b"", True), ("empty.csv", b"", False), ("blank.csv", b"\n \n", False)]:
        err = _error(_write(tmp_path, name, data, gz=gz))
        assert "empty" in str(err)


def test_header_without_data_rows(tmp_path: Path) -> None:
    path = _write(tmp_path, "arrests.csv.gz", b"\n".join(_lines(SEA_ARRESTS)[:7]) + b"\n")
    err = _error(path)
    assert "no data rows" in str(err) and err.row == 7


def test_non_utf8_bytes_name_the_line(tmp_path: Path) -> None:
    lines = _lines(SEA_ARRESTS)
    lines[29] = lines[29].replace(b"MEXICO", b"M\xc9XICO") if b"MEXICO" in lines[29] else lines[29] + b"\xff"
    path = _write(tmp_path, "arrests.csv.gz", b"\n".join(lines))
    err = _error(path)
    assert err.row == 30 and "UTF-8" in str(err)


def _rename_sheet(src: Path, dest: Path, old: str, new: str) -> None:
    zin = zipfile.ZipFile(src)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "xl/workbook.xml":
                assert f'name="{old}"'.encode() in data
                data = data.replace(f'name="{old}"'.encode(), f'name="{new}"'.encode())
            zout.writestr(info, data)
    dest.write_bytes(out.getvalue())


def test_xlsx_with_unexpected_sheet(tmp_path: Path) -> None:
    path = tmp_path / SEA_XLSX.name
    _rename_sheet(SEA_XLSX, path, "Footnotes", "Detainers")
    err = _error(path, "seattle_aor_xlsx")
    assert err.field == "Detainers" and "unexpected sheet" in str(err)


def test_cap_xlsx_with_unexpected_sheet(tmp_path: Path) -> None:
    path = tmp_path / CAP_XLSX.name
    _rename_sheet(CAP_XLSX, path, "FY2017 Removals", "FY2017 Deportations")
    err = _error(path, "seattle_cap_xlsx")
    assert err.field == "FY2017 Deportations"


def test_xlsx_that_is_not_a_workbook(tmp_path: Path) -> None:
    path = tmp_path / SEA_XLSX.name
    path.write_bytes(SEA_XLSX.read_bytes()[:5000])
    err = _error(path, "seattle_aor_xlsx")
    assert "xlsx" in str(err)


def test_unknown_state_name(tmp_path: Path) -> None:
    text = JOINED.read_bytes()
    lines = text.split(b"\n")
    assert b'"WASHINGTON"' in lines[1]
    lines[1] = lines[1].replace(b'"WASHINGTON"', b'"WASHINGTN"')
    path = _write(tmp_path, "joined_df_wa.csv", b"\n".join(lines), gz=False)
    err = _error(path, "ddp_joined")
    assert (err.row, err.value) == (2, "WASHINGTN")
    assert err.field in {"apprehension_state.arrest", "facility_state.detainer"}


def test_unknown_reader_and_table_option(tmp_path: Path) -> None:
    err = _error(SEA_ARRESTS, "no_such_reader")
    assert "unknown reader" in str(err)
    err = _error(SEA_ARRESTS, "seattle_aor_csv", table="detainers")
    assert "unknown table" in str(err)


def test_row_with_too_many_fields(tmp_path: Path) -> None:
    lines = _lines(SEA_ARRESTS)
    lines[79] = lines[79] + b'|"extra"'
    path = _write(tmp_path, "arrests.csv.gz", b"\n".join(lines))
    err = _error(path)
    assert err.row == 80 and "9 fields" in str(err)


def test_byte_order_mark_is_ignored(tmp_path: Path) -> None:
    path = _write(tmp_path, "arrests.csv.gz", b"\xef\xbb\xbf" + gzip.decompress(SEA_ARRESTS.read_bytes()))
    assert _read(path)["arrests"].equals(_read(SEA_ARRESTS)["arrests"])


def test_xlsx_missing_a_data_sheet(tmp_path: Path) -> None:
    path = tmp_path / SEA_XLSX.name
    _rename_sheet(SEA_XLSX, path, "Book Ins", "Footnotes 2")
    err = _error(path, "seattle_aor_xlsx")
    assert err.field == "Footnotes 2"  # an unexpected sheet is reported first


def test_line_lookup_matches_a_plain_split(monkeypatch: pytest.MonkeyPatch) -> None:
    """The short-row check locates lines by per-chunk newline counts; check it against bytes.split."""
    import random

    from icemonitor.readers import _text

    data = gzip.decompress(SEA_ARRESTS.read_bytes())
    body = memoryview(data)[500:]
    lines = bytes(body).split(b"\n")
    rng = random.Random(3)
    for chunk in (64, 1000, 1 << 20):
        monkeypatch.setattr(_text, "CHUNK", chunk)
        counts = _text._chunk_newlines(data, 500)
        for line in [1, 2, len(lines) - 2, *rng.sample(range(1, len(lines) - 1), 100)]:
            start, end = _text._line_bounds(body, counts, line)
            assert bytes(body[start:end]) == lines[line]


def test_short_row_near_the_end_of_a_large_file(tmp_path: Path) -> None:
    lines = _lines(NATION_ARRESTS)
    n = len(lines) - 50
    lines[n] = b"|".join(lines[n].split(b"|")[:7])
    path = _write(tmp_path, "EROArrests_FY2016.csv.gz", b"\n".join(lines))
    err = _error(path, "lesa_nationwide")
    assert err.row == n + 1 and err.field == "Citizenship"


def test_corrupt_gzip_payload(tmp_path: Path) -> None:
    raw = bytearray(NATION_ARRESTS.read_bytes())
    raw[len(raw) // 2 : len(raw) // 2 + 64] = bytes(64)  # zeros in the middle of the deflate stream
    path = _write(tmp_path, "EROArrests_FY2016.csv.gz", bytes(raw), gz=False)
    err = _error(path, "lesa_nationwide")
    assert "gzip" in str(err)


def test_two_gzip_members_are_one_file(tmp_path: Path) -> None:
    data = gzip.decompress(SEA_ARRESTS.read_bytes())
    cut = data.index(b"\n", len(data) // 2) + 1
    path = _write(tmp_path, "arrests.csv.gz", gzip.compress(data[:cut]) + gzip.compress(data[cut:]), gz=False)
    assert _read(path)["arrests"].equals(_read(SEA_ARRESTS)["arrests"])
