"""Report text conventions: number/date formatting per language, and the two message catalogs."""

from __future__ import annotations

import datetime as dt
import re
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from icemonitor.errors import InputError
from icemonitor.present.i18n import format_count, format_date, format_number, format_percent, messages
from icemonitor.present.i18n.format import parse_date, parse_number
from icemonitor.present.report import md_code, md_escape


def test_examples():
    # Spanish as in Mexico and Spanish-language media in the U.S., like the dashboard: one format per language
    assert format_count(1234, "en") == "1,234" and format_count(1234, "es") == "1,234"
    assert format_count(999, "es") == "999" and format_count(1234567, "es") == "1,234,567"
    assert format_percent(0.335, "en") == "33.5%" and format_percent(0.335, "es") == "33.5\u00a0%"
    assert format_percent(0.0, "es") == "0.0\u00a0%" and format_percent(1.0, "en") == "100.0%"
    assert format_number(2.6362, "en", 1) == "2.6" and format_number(98.625, "es", 1) == "98.6"
    assert format_number(0.25, "en", 1) == "0.3"  # half away from zero, not banker's rounding
    assert format_date(dt.date(2017, 9, 24), "en") == "Sep 24, 2017"  # the same as pages and CLI text
    assert format_date(dt.date(2017, 9, 24), "es") == "24 sep 2017"
    with pytest.raises(InputError):
        format_count(1, "fr")


def test_agrees_with_babel_cldr():
    babel = pytest.importorskip("babel.numbers")
    dates = pytest.importorskip("babel.dates")
    for n in (1_234, 12_345, 1_234_567, 543_210):
        assert format_count(n, "en") == babel.format_decimal(n, locale="en_US")
        assert format_count(n, "es") == babel.format_decimal(n, locale="es_MX")
    for d in (dt.date(2017, 9, 24), dt.date(2015, 3, 2), dt.date(2020, 12, 1)):
        assert format_date(d, "en") == dates.format_date(d, format="medium", locale="en_US")
        assert format_date(d, "es") == dates.format_date(d, format="medium", locale="es_MX")


@given(st.integers(min_value=0, max_value=10**9), st.integers(min_value=0, max_value=3), st.sampled_from(["en", "es"]))
def test_number_round_trip(n, decimals, lang):
    value = n / 10**decimals
    assert parse_number(format_number(value, lang, decimals), lang) == pytest.approx(value)


@given(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2100, 12, 31)), st.sampled_from(["en", "es"]))
def test_date_round_trip(day, lang):
    assert parse_date(format_date(day, lang), lang) == day


def _fields(text: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(text) if f}


def test_catalogs_have_the_same_keys_and_placeholders():
    en, es = messages("en"), messages("es")
    own = {k for k in es if k.startswith("def_")}  # Spanish renderings of the English definition texts
    assert set(en) == set(es) - own
    for key in en:
        assert _fields(en[key]) == _fields(es[key]), key
    for key in own:
        assert es[key] and not _fields(es[key])


def test_spanish_vocabulary():
    es = " ".join(messages("es").values())
    for phrase in ("arrestos en la comunidad (at-large)", "detenciones bajo custodia", "Redadas detectadas",
                   "sin antecedentes penales registrados", "jurisdicción santuario"):
        assert phrase in es, phrase
    assert "sweep" not in es.lower()


@given(st.text())
def test_markdown_code_span_holds_any_text(text):
    span = md_code(text)
    fence = re.match(r"`+", span).group(0)
    inner = span[len(fence):-len(fence)]
    assert span.endswith(fence) and fence not in inner.replace("\n", " ")


def test_markdown_escape():
    assert md_escape("a*b_c[d](e)<f>") == "a\\*b\\_c\\[d\\](e)\\<f\\>"
