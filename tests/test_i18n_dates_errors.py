"""Dates inside analysis sentences in the reader's language, input errors and the API's 503s in the request's
language, and the detention readers' stop reasons as messages (issue #16, the session 5 leftovers).

The warehouse tests run on the warehouse `icemonitor build` makes from ../shared/data (conftest).
"""

from __future__ import annotations

import datetime as dt
import json
import pickle
import re

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from icemonitor.errors import InputError
from icemonitor.messages import DateSpan, Given, Month, formats, from_json, msg, to_json

ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


@pytest.mark.parametrize(("first", "last", "en", "es"), [
    ("2026-11-01", "2026-11-30", "Nov 1–30, 2026", "1–30 nov 2026"),
    ("2025-04-06", "2025-06-10", "Apr 6 – Jun 10, 2025", "6 abr – 10 jun 2025"),
    ("2024-12-06", "2025-01-10", "Dec 6, 2024 – Jan 10, 2025", "6 dic 2024 – 10 ene 2025"),
    ("2017-09-24", "2017-09-24", "Sep 24, 2017", "24 sep 2017"),
])
def test_a_span_of_days_in_each_language(first, last, en, es):
    assert formats.span(first, last, "en") == en and formats.span(first, last, "es") == es
    span = DateSpan(first, last)
    assert str(span) == en and span.render("es") == es and span.iso == f"{first}..{last}"
    # inside a message, a span and a day are said in the message's language
    m = msg("{place}, {span}", place=Given("Los Angeles County, CA", es="condado de Los Ángeles, CA"), span=span)
    assert m.render("es") == f"condado de Los Ángeles, CA, {es}" and str(m).endswith(en)


@settings(max_examples=300, deadline=None)
@given(st.dates(dt.date(1990, 1, 1), dt.date(2040, 12, 31)), st.sampled_from(["en", "es", "fr"]))
def test_kept_days_and_months_are_babels_own(d, lang):
    """formats keeps each formatted day and month (LRU): whatever was asked before, the text is Babel's own for
    that date and language (an unknown language is English)."""
    from babel import Locale
    from babel.dates import format_date, format_skeleton

    loc = Locale.parse({"en": "en_US", "es": "es_US"}.get(lang, "en_US"))
    want_month, want_day = format_skeleton("yMMM", d, locale=loc), format_date(d, "medium", locale=loc)
    assert formats.month(d.strftime("%Y-%m"), lang) == formats.month(d, lang) == want_month
    assert formats.day(d.isoformat(), lang) == formats.day(dt.datetime(d.year, d.month, d.day, 5), lang) == want_day


def test_days_months_and_nested_messages_survive_pickle_and_the_warehouse_json():
    m = msg("{a}; {b}", a=msg("no records of {table} for {where}", table="arrests",
                              where=msg("{place}, {span}", place=Given("LA", es="LA (es)"),
                                        span=DateSpan("2026-11-01", "2026-11-30"))),
            b=[dt.date(2020, 1, 2), Month("2017-09")])
    for copy in (pickle.loads(pickle.dumps(m)), from_json(to_json(m))):
        assert str(copy) == str(m) == "no records of arrests for LA, Nov 1–30, 2026; Jan 2, 2020, Sep 2017"
        assert copy.render("es") == m.render("es") == ("no hay registros de arrests para LA (es), 1–30 nov 2026; "
                                                       "2 ene 2020, sep 2017")
    # the older stored form (id and plain parameters) still reads
    old = from_json('{"msgid": "no rule reads this sheet", "params": {}}')
    assert old.render("es") == "ninguna regla lee esta hoja"


def test_an_input_error_in_spanish_keeps_its_english_text():
    err = InputError(msg("empty place"), field="place", value="")
    assert str(err) == "empty place (field 'place', value '')"
    assert err.render("es") == "no se indicó ningún lugar (campo 'place', valor '')"
    plain = InputError("not a number", file="x.csv", row=3)
    assert plain.render("es") == "not a number (archivo x.csv, fila 3)"  # a text with no translation: as written


# -- on the warehouse ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def ref():
    shared = __import__("conftest").SHARED_DATA
    return lambda p: shared / p


def test_a_coverage_reason_says_its_dates_in_the_readers_language(warehouse_con, ref):
    from icemonitor.analysis.summary import summary

    res = summary(warehouse_con, date_from="2026-11-01", date_to="2026-11-30", place="06037", ref=ref)
    reason = res.coverage["reason"]
    assert str(reason) == "no records of arrests for Los Angeles County, CA, Nov 1–30, 2026"
    assert reason.render("es") == "no hay registros de arrests para condado de Los Ángeles, CA, 1–30 nov 2026"
    assert not ISO_DAY.search(str(reason)) and not ISO_DAY.search(reason.render("es"))
    # the JSON fields stay ISO; the reason reads naturally
    body = json.loads(res.to_json())["coverage"]
    assert (body["from"], body["to"], body["uncovered_spans"][0]["from"]) == ("2026-11-01", "2026-11-30", "2026-11-01")
    assert body["reason"] == str(reason)
    reach = res.coverage["records_reach"]
    assert not ISO_DAY.search(str(reach)) and not ISO_DAY.search(reach.render("es"))
    assert "Oct 1, 2015 – Sep 1, 2019" in str(reach) and "1 oct 2015 – 1 sep 2019" in reach.render("es")


def test_a_sweep_that_cannot_be_measured_says_its_dates_in_the_readers_language(warehouse_con, ref):
    from icemonitor.analysis.sweeps import sweeps

    res = sweeps(warehouse_con, place="LOS", date_from="2025-06-01", date_to="2025-06-10", ref=ref)
    (why,) = [c for c in res.caveats if str(c).startswith("Cannot be measured")]
    en, es = str(why), why.render("es")
    assert "at least 23 days with records in Apr 6 – Jun 10, 2025 (the 56 days before" in en
    assert "al menos 23 días con registros en 6 abr – 10 jun 2025" in es
    assert not ISO_DAY.search(en) and not ISO_DAY.search(es)


def test_a_stopped_detention_table_says_why_in_spanish(warehouse_con):
    from icemonitor.analysis import detention

    (line,) = detention.posting_errors_for(warehouse_con, "FY26_detentionStats_04092026.xlsx")
    assert "with a bond posted is more than the total" in str(line)  # the exclusions' English, as before
    es = line.render("es")
    assert "con fianza pagada es más que el total" in es and "archivo FY26_detentionStats_04092026.xlsx, hoja" in es
    assert "with a bond posted" not in es
    (evidence,) = warehouse_con.execute(
        "SELECT evidence FROM detention_exclusions WHERE source_file = 'FY26_detentionStats_04092026.xlsx' "
        "AND reason = 'table_stopped'").fetchone()
    assert evidence.startswith("file FY26_detentionStats_04092026.xlsx, sheet ") and "bond posted" in evidence


# -- the web's errors in the request's language --------------------------------------------------------------------

@pytest.mark.parametrize(("query", "headers", "spanish"), [
    ("lang=es", {}, True), ("", {"Accept-Language": "es-MX,es;q=0.9"}, True), ("", {}, False),
    ("lang=en", {"Accept-Language": "es"}, False)])
def test_a_bad_place_in_the_api_is_said_in_the_requests_language(warehouse_client, query, headers, spanish):
    r = warehouse_client.get(f"/api/v1/summary?place=Nowhereville&{query}", headers=headers)
    assert r.status_code == 422
    text = r.json()["detail"][0]["msg"]
    assert text.startswith("no se conoce el lugar 'Nowhereville'" if spanish else "unknown place 'Nowhereville'")
    ambiguous = warehouse_client.get(f"/api/v1/summary?place=LA&{query}", headers=headers).json()["detail"][0]["msg"]
    assert ("Luisiana (estado)" in ambiguous) == spanish and ("Louisiana (state)" in ambiguous) != spanish


def test_no_warehouse_is_a_503_in_the_requests_language(tmp_path):
    from icemonitor.web.app import create_app

    client = TestClient(create_app(tmp_path / "none" / "warehouse.duckdb"))
    en = client.get("/api/v1/summary")
    es = client.get("/api/v1/summary", headers={"Accept-Language": "es"})
    es_param = client.get("/api/v1/summary?lang=es")
    assert en.status_code == es.status_code == es_param.status_code == 503
    assert en.json()["detail"].startswith("no warehouse at ")
    assert es.json() == es_param.json() and es.json()["detail"].startswith("no hay almacén de datos en ")


def test_a_busy_server_is_a_503_in_the_requests_language(warehouse_path, monkeypatch):
    from icemonitor.web import analyses
    from icemonitor.web.app import create_app

    monkeypatch.setattr(analyses, "CHECK_SECONDS", 0.2)
    client = TestClient(create_app(warehouse_path))
    claim = {"id": "busy", "metric": "count", "period": {"from": "2017-01-01", "to": "2017-01-31"},
             "comparison": "about", "value": 1}
    taken = 0
    while analyses.CHECKS_AT_ONCE.acquire(blocking=False):
        taken += 1
    try:
        es = client.post("/api/v1/check?lang=es", json={"claims": [claim]})
        en = client.post("/api/v1/check", json={"claims": [claim]})
    finally:
        for _ in range(taken):
            analyses.CHECKS_AT_ONCE.release()
    assert es.status_code == en.status_code == 503 and es.headers["retry-after"] == "10"
    assert es.json()["detail"] == ("el servidor está ocupado verificando otras afirmaciones; vuelva a intentarlo en "
                                   "unos segundos")
    assert en.json()["detail"] == "the server is busy checking other claims; try again shortly"


# -- the session 6 leftovers: curated texts, detention evidence and data age ---------------------------------------

def test_the_sanctuary_definitions_say_their_dates_in_the_readers_language():
    from icemonitor.places.sanctuary import curated_text, definitions

    texts = [t for d in definitions().values() for t in (d.description, *d.caveats)]
    texts += [curated_text(c["note"]) for d in definitions().values() for c in d.coverage if c.get("note")]
    for t in texts:
        assert not ISO_DAY.search(str(t)) and not ISO_DAY.search(t.render("es")), t
    d = definitions()
    assert "published Aug 5, 2025 (EO 14287)" in d["doj-2025"].description
    assert "publicada el 5 ago 2025 (EO 14287)" in d["doj-2025"].description.render("es")
    (outside,) = [c for c in d["no-287g"].caveats if str(c).startswith("Outside")]
    assert "(Jan 1, 2020 – Jan 3, 2025)" in outside and "(1 ene 2020 – 3 ene 2025)" in outside.render("es")
    with pytest.raises(InputError, match="names a date the file does not give"):
        curated_text("the list of {no_such_date}")


def test_the_sanctuary_status_reason_says_the_coverage_note_in_spanish(ref):
    from icemonitor.places.sanctuary import status

    st = status("06037", dt.date(2025, 6, 1), "no-287g", ref)
    reason = st.reason.render("es")
    assert "hojas de agencias participantes del ICE 4 ene 2025 – 18 may 2026" in reason, reason
    assert not ISO_DAY.search(reason) and not ISO_DAY.search(str(st.reason))


def test_detention_check_evidence_says_its_dates_in_each_language():
    import polars as pl

    from icemonitor.messages import from_json
    from icemonitor.warehouse.detention_checks import stated_date_older

    postings = pl.DataFrame({"release_id": ["r", "r"], "source_file": ["a.xlsx", "b.xlsx"],
                             "archived_on": [dt.date(2021, 1, 7), dt.date(2021, 1, 14)],
                             "stated_as_of": [dt.date(2021, 1, 2), dt.date(2020, 10, 2)]})
    (row,) = stated_date_older(postings)
    assert row["evidence"] == "states Oct 2, 2020 (archived Jan 14, 2021) after a.xlsx stated Jan 2, 2021 (archived " \
                              "Jan 7, 2021)"
    es = from_json(row["evidence_message"]).render("es")
    assert "2 oct 2020" in es and "14 ene 2021" in es and not ISO_DAY.search(es)


def test_detention_data_age_says_its_dates_in_each_language():
    from icemonitor.analysis.detention import reach

    r = reach(dt.date(2015, 10, 1), dt.date(2026, 4, 4))
    assert str(r) == "detention facility records reach: Oct 1, 2015 – Apr 4, 2026 (ddp-facility-daily-population)"
    assert "1 oct 2015 – 4 abr 2026" in r.render("es") and not ISO_DAY.search(r.render("es"))
    assert str(reach(None, None)) == "detention_facility_days records: none loaded"
