"""Display text as message catalogs (icemonitor.messages): every message id the code and the curated data files
define has its Spanish in the gettext catalog, and the analyses hand the presentation layers messages, never
plain English, so no English sentence can reach a Spanish page, report or CLI text by fallback."""

from __future__ import annotations

import datetime as dt
import pickle
import re
import string
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from icemonitor import messages
from icemonitor.messages import Given, Message, MissingTranslation, msg

REPO = Path(__file__).resolve().parents[1]
PO = REPO / "src/icemonitor/messages/locale/es/LC_MESSAGES/icemonitor.po"


def extracted() -> dict[str, list[str]]:
    """Every message id `make messages` extracts (babel.cfg, keyword msg), with where it comes from."""
    with open(REPO / "babel.cfg", encoding="utf-8") as f:
        method_map, options_map = parse_mapping_cfg(f)
    out: dict[str, list[str]] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
            str(REPO), method_map, options_map, keywords={"msg": (1,)}):
        if isinstance(message, str) and message:
            out.setdefault(message, []).append(f"{filename}:{lineno}")
    return out


def _fields(text: str) -> set[tuple[str, str]]:
    return {(name, spec or "") for _, name, spec, _ in string.Formatter().parse(text) if name is not None}


def test_extraction_finds_code_and_data_messages():
    found = extracted()
    from icemonitor.analysis import claims, sweeps, targeting

    assert sweeps.SWEEP_DEFINITIONS["sweep"].msgid in found
    assert all(c.msgid in found for c in claims.COMPARISONS.values())
    assert all(p.msgid in found for p in targeting.PLAIN_WORDS)
    assert "Cannot be measured: {why}. This is not 'no sweep'." in found
    assert any("announced_operations.csv" in w for ws in found.values() for w in ws)  # operation names
    assert any("sanctuary_definitions.yaml" in w for ws in found.values() for w in ws)  # definition texts
    assert len(found) > 250


def test_every_message_has_spanish_with_the_same_placeholders():
    catalog = messages.catalog("es")
    found = extracted()
    missing = {m: where for m, where in found.items() if m not in catalog}
    assert not missing, "no Spanish (run `make messages` and translate): " + repr(missing)
    for msgid in found:
        es = catalog[msgid]
        assert es.strip(), msgid
        assert _fields(es) == _fields(msgid), (msgid, es)


def test_the_catalog_holds_no_stale_or_fuzzy_entries():
    """A changed English sentence is a new id: its old entry would linger here while the new one has no Spanish."""
    with open(PO, "rb") as f:
        po = read_po(f, locale="es")
    found = extracted()
    stale = [m.id for m in po if m.id and m.id not in found]
    assert not stale, stale
    assert not [m.id for m in po if m.id and m.fuzzy]


def test_a_message_renders_in_each_language_and_fails_without_a_translation():
    inner = msg("no records of {table} at all", table="arrests")
    outer = msg("No records: {why}. There is no count for this question (not zero).", why=inner)
    assert outer == "No records: no records of arrests at all. There is no count for this question (not zero)."
    assert outer.render("en") == str(outer)
    assert outer.render("es") == "Sin registros: no hay ningún registro de arrests. No hay conteo para esta pregunta (no es cero)."
    n = msg("{n:,} events of the same filters are placed in {place} only by the county of the arresting office "
            "(office placements); they are not counted here (placement 'any' counts them).", n=12345,
            place=Given("Los Angeles County, CA", es="condado de Los Ángeles, CA"))
    assert n.render("es").startswith("12,345 eventos con los mismos filtros se ubican en condado de Los Ángeles, CA")
    with pytest.raises(MissingTranslation):
        msg("A sentence no catalog has").render("es")
    assert msg("A sentence no catalog has").render("en") == "A sentence no catalog has"
    # lists of messages are joined; messages survive pickling (worker processes, caches)
    months = msg("Months left out because the data cover fewer than {n} of their days: {months}.", n=20,
                 months=[msg("{month} ({n} days with data)", month="2019-09", n=1),
                         msg("{month} ({n} days with data)", month="2015-10", n=3)])
    assert months.render("es") == ("Meses excluidos porque los datos cubren menos de 20 de sus días: "
                                   "2019-09 (1 días con datos), 2015-10 (3 días con datos).")
    back = pickle.loads(pickle.dumps(months))
    assert isinstance(back, Message) and back.render("es") == months.render("es")
    g = pickle.loads(pickle.dumps(Given("Louisiana", es="Luisiana")))
    assert g.render("es") == "Luisiana" and g == "Louisiana"
    assert messages.render({"a": [outer], "b": 3}, "es")["a"][0].startswith("Sin registros")


def test_data_extractor_reads_yaml_keys_and_csv_columns(tmp_path):
    from icemonitor.messages.extract import extract_data

    y = tmp_path / "d.yaml"
    y.write_text("defs:\n  a:\n    description: >\n      Two\n      lines\n    caveats: [one, two]\n    other: no\n")
    with open(y, "rb") as f:
        got = [(line, text) for line, _, text, _ in extract_data(f, None, None, {"keys": "description caveats"})]
    assert got == [(3, "Two lines"), (6, "one"), (6, "two")]
    c = tmp_path / "d.csv"
    c.write_text("# comment\nkey,name\nx,PROXY. A name\ny,\n")
    with open(c, "rb") as f:
        got = [(line, text) for line, _, text, _ in
               extract_data(f, None, None, {"columns": "name", "strip_prefix": "PROXY."})]
    assert got == [(3, "A name")]


# ---------------------------------------------------------------- the analyses hand out messages

DISPLAY_KEYS = ("note", "reason", "definition", "known_as", "group", "method", "event")


def _display_texts(result, keys: tuple[str, ...] = DISPLAY_KEYS) -> list[object]:
    """Every display text of an AnalysisResult: caveats, definitions, plain words, coverage reason, and the
    figures' and models' notes, reasons, definitions, sweep explanations, also-seen-as lines and criminality keys."""
    out: list[object] = list(result.caveats) + list(result.definitions.values())
    out += result.extra.get("plain_words", [])
    if result.coverage and result.coverage.get("reason"):
        out.append(result.coverage["reason"])
    rows = list(result.figures) + result.extra.get("models", []) + result.extra.get("did", [])
    for row in rows:
        out += [row[k] for k in keys if row.get(k)]
        out += list(row.get("also_seen_as") or [])
        if isinstance(row.get("criminality"), dict):
            out += list(row["criminality"])
        elif row.get("criminality") and result.name == "sweeps":  # elsewhere a code (a grouping value)
            out.append(row["criminality"])
    return out


def _all_spanish(texts: list[object]) -> list[str]:
    """Each text with words is a Message and renders in Spanish (MissingTranslation otherwise); returns the Spanish.
    Values without words (a month '2017-07', a figure) are the same in every language."""
    plain = [t for t in texts if not isinstance(t, Message) and re.search(r"[A-Za-z]{3}", str(t))]
    assert not plain, f"plain (untranslatable) display text: {plain[:5]}"
    return [t.render("es") if isinstance(t, Message) else str(t) for t in texts]


@pytest.fixture(scope="module")
def con(warehouse_con):
    return warehouse_con


@pytest.fixture(scope="module")
def ref():
    shared = __import__("conftest").SHARED_DATA
    return lambda p: shared / p


def test_sweeps_and_their_explanations_are_messages(con, ref):
    from icemonitor.analysis.sweeps import sweeps
    from icemonitor.analysis.validation import explain

    res = sweeps(con, date_from="2016-10-01", date_to="2017-09-30", measure="at_large", limit=20, ref=ref)
    for f in res.figures:
        f["known_as"] = explain(f)
    texts = _display_texts(res)
    assert any(isinstance(f.get("known_as"), Message) for f in res.figures)
    spanish = _all_spanish(texts)
    assert "Una racha de 2 a 10 días consecutivos" in " ".join(spanish)
    short = sweeps(con, place="LOS", date_from="2025-06-01", date_to="2025-06-10", ref=ref)
    assert any(s.startswith("No se puede medir: el número esperado necesita al menos")
               for s in _all_spanish(_display_texts(short)))


def test_summary_priorities_and_coverage_reasons_are_messages(con, ref):
    from icemonitor.analysis.priorities import priorities
    from icemonitor.analysis.summary import summary

    county = summary(con, by="criminality", date_from="2017-09-24", date_to="2017-09-27", place="06037", ref=ref)
    spanish = _all_spanish(_display_texts(county))
    assert any("condado de Los Ángeles, CA" in s for s in spanish)
    none = summary(con, date_from="2026-11-01", date_to="2026-11-30", place="06037", ref=ref)
    assert none.extra["total_events"] is None
    spanish = _all_spanish(_display_texts(none))
    assert any(s.startswith("Sin registros: no hay registros de arrests para condado de Los Ángeles, CA, "
                            "1–30 nov 2026") for s in spanish), spanish
    for by in ("fy", "state", "month,method_class"):
        _all_spanish(_display_texts(summary(con, by=by, date_from="2016-10-01", date_to="2017-09-30", place="CA",
                                            ref=ref)))
    for table in ("arrests", "removals"):
        _all_spanish(_display_texts(priorities(con, table=table, date_from="2015-10-01", date_to="2019-09-30",
                                               place="SEA", ref=ref)))


def test_targeting_and_claims_are_messages(con, ref, tmp_path):
    from icemonitor.analysis.claims import check
    from icemonitor.analysis.targeting import targeting

    for definition, period in ((None, "month"), ("no-287g", "fy"), ("doj-2025", "month")):
        res = targeting(con, definition=definition, period=period)
        _all_spanish(_display_texts(res))
    claims = REPO / "examples" / "claims"
    files = sorted(claims.glob("*.yaml"))
    assert files
    for path in files:
        res = check(con, path, ref=ref)
        for f in res.figures:
            assert isinstance(f["reason"], Message), (path.name, f["reason"])
            _all_spanish([f["reason"], f["place"]] + ([f["definition"]] if f["definition"] else []))
        # a claim's own note is its author's text, shown as written; notes the check adds are messages
        _all_spanish(_display_texts(res, tuple(k for k in DISPLAY_KEYS if k != "note")))
        _all_spanish([f["note"] for f in res.figures if isinstance(f["note"], Message)])


def test_sanctuary_status_is_messages(ref):
    from icemonitor.places.sanctuary import definitions, status

    for name in definitions():
        st = status("06037", dt.date(2018, 2, 1), name, ref)
        _all_spanish([st.definition_text, st.reason, *st.caveats])


def test_no_english_in_spanish_renderings_of_numbers():
    """Figures inside messages keep one format in both languages (1,234 and 12.5%: es as in Mexico and the U.S.)."""
    m = msg("records cover {share:.0%} of {where} (AOR-days); covered: {spans}{unrecorded}", share=0.42,
            where="LOS", spans="2017-01-01..2017-02-01", unrecorded="")
    assert re.search(r"\b42%", m.render("es")) and re.search(r"\b42%", m)


# ---------------------------------------------------------------- one number and date format per language

def test_one_date_and_number_format_per_language():
    from babel import dates

    from icemonitor.messages import formats

    day = dt.date(2017, 9, 24)
    assert formats.day(day, "en") == "Sep 24, 2017" and formats.day("2017-09-24", "es") == "24 sep 2017"
    assert formats.month("2017-09", "en") == "Sep 2017" and formats.month("2017-09", "es") == "sep 2017"
    assert formats.number(1234.5, "en", 1) == formats.number(1234.5, "es", 1) == "1,234.5"
    assert formats.day(None, "es") == "–" and formats.day("unresolved:LOS", "es") == "unresolved:LOS"
    for d in (day, dt.date(2015, 3, 2), dt.date(2020, 12, 1)):  # CLDR medium, U.S. English and U.S. Spanish
        assert formats.day(d, "en") == dates.format_date(d, "medium", locale="en_US")
        assert formats.day(d, "es") == dates.format_date(d, "medium", locale="es_US")
    from icemonitor.present.i18n import format_date

    assert format_date(day, "es") == formats.day(day, "es")  # reports write days as pages do


def test_cli_text_in_spanish(warehouse_path, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from icemonitor.cli import app

    (tmp_path / "warehouse.duckdb").symlink_to(warehouse_path)
    monkeypatch.setenv("ICEMONITOR_HOME", str(tmp_path))
    monkeypatch.setenv("COLUMNS", "200")
    args = ["summary", "--place", "Los Angeles County", "--from", "2017-09-24", "--to", "2017-09-27",
            "--by", "criminality"]
    es = CliRunner().invoke(app, [*args, "--lang", "es"])
    assert es.exit_code == 0, es.output
    text = " ".join(es.stdout.split())
    assert "La criminalidad significa cosas distintas en cada entrega" in text
    assert "Criminality means different things" not in text
    assert "pueden estar o no en condado de Los Ángeles, CA" in text
    en = CliRunner().invoke(app, args)
    assert "Criminality means different things per release" in " ".join(en.stdout.split())
    monkeypatch.setenv("ICEMONITOR_LANG", "es")
    assert "La criminalidad significa" in " ".join(CliRunner().invoke(app, args).stdout.split())
    as_json = CliRunner().invoke(app, [*args, "--json"])  # JSON stays English and ISO
    assert "Criminality means different things" in as_json.stdout and '"from": "2017-09-24"' in as_json.stdout
    bad = CliRunner().invoke(app, [*args, "--lang", "fr"])
    assert bad.exit_code == 2
