"""Places as people name them (places/place_names.py), checked against the reference files read independently."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from icemonitor.places.place_filter import AmbiguousPlace, UnknownPlace, parse_exact
from icemonitor.places.place_names import parse_place
from icemonitor.places.place_names import fold, label_in, reading_note, suggest

from conftest import SHARED_DATA

pytestmark = pytest.mark.skipif(not SHARED_DATA.exists(), reason="needs ../shared/data")


def ref(p: str) -> Path:
    return SHARED_DATA / p


@pytest.fixture(scope="module")
def cities() -> pd.DataFrame:
    return pd.read_csv(SHARED_DATA / "geo/simplemaps_uscities_slim.csv", dtype=str, encoding="utf-8-sig")


@pytest.fixture(scope="module")
def counties() -> pd.DataFrame:
    return pd.read_csv(SHARED_DATA / "geo/counties_fips.csv", dtype=str)


def test_la_is_asked_never_silently_louisiana():
    for words in ("LA", "L.A.", "la"):
        with pytest.raises(AmbiguousPlace) as err:
            parse_place(words, ref)
        picked = {parse_place(value, ref).code for value, _ in err.value.choices}
        assert picked == {"LA", "06037", "LOS"}


def test_los_angeles_as_people_say_it_in_english_and_spanish():
    for words in ("Los Angeles", "Los Angeles County", "LA County", "L.A. County", "condado de Los Ángeles",
                  "Condado de LA", "los angeles county, california", "Los Angeles County, CA", "06037"):
        assert parse_place(words, ref).code == "06037", words
    for words in ("Los Angeles field office", "oficina de Los Ángeles", "LOS", "Los Angeles AOR"):
        assert parse_place(words, ref).code == "LOS", words
    assert parse_place("Los Angeles", ref).alternatives == ("LOS",)  # the field office is offered too


def test_a_city_reads_as_its_county_and_says_so(cities):
    expected = cities[(cities.city_ascii == "Pomona") & (cities.state_id == "CA")].county_fips.iloc[0].zfill(5)
    place = parse_place("Pomona, CA", ref)
    assert (place.level, place.code, place.read_as, place.city) == ("county", expected, "city", "Pomona, CA")
    assert "Pomona, CA is a city in Los Angeles County, CA" in reading_note(place, ref)
    chicago = cities[(cities.city_ascii == "Chicago") & (cities.state_id == "IL")].county_fips.iloc[0].zfill(5)
    assert parse_place("Chicago, Illinois", ref).code == chicago == "17031"


def test_a_county_and_a_city_of_the_same_name_in_different_counties_are_asked():
    with pytest.raises(AmbiguousPlace) as err:
        parse_place("Houston, TX", ref)
    assert {parse_place(v, ref).code for v, _ in err.value.choices} == {"48225", "48201"}  # Houston Co., Harris Co.


def test_a_county_name_in_several_states_lists_them_all(counties):
    orange = counties[counties.county_name == "Orange County"]
    with pytest.raises(AmbiguousPlace) as err:
        parse_place("Orange County", ref)
    assert {v for v, _ in err.value.choices} == set(orange.fips5)


def test_state_names_and_codes_in_both_languages():
    for words, code in (("Luisiana", "LA"), ("Louisiana", "LA"), ("Carolina del Norte", "NC"), ("TX", "TX"),
                        ("estado de Nueva York", "NY"), ("New York State", "NY"), ("Pensilvania", "PA")):
        assert parse_place(words, ref).code == code, words
    with pytest.raises(AmbiguousPlace):
        parse_place("New York", ref)  # the state or the city


def test_every_choice_is_one_place_when_given_back():
    for words in ("LA", "New York", "Houston", "Miami", "Orange County", "Springfield", "Newark", "Washington County"):
        with pytest.raises(AmbiguousPlace) as err:
            parse_place(words, ref)
        for value, _ in err.value.choices:
            parse_place(value, ref)  # raises if the choice were ambiguous or unknown


def test_unknown_words_say_so_with_a_hint():
    with pytest.raises(UnknownPlace) as err:
        parse_place("Narnia", ref)
    assert "unknown place 'Narnia'" in str(err.value) and "field office" in err.value.hint


def test_suggestions_and_labels():
    values = [v for v, _ in suggest("fres", ref)]
    assert values[0] == "Fresno County, CA" and "Fresno, CA" in values
    assert fold("Condado de Los Ángeles") == "condado de los angeles"
    assert label_in(parse_exact("06037", ref), "es", ref) == "condado de Los Ángeles, CA"
    assert label_in(parse_exact("LA", ref), "es", ref) == "Luisiana"
    assert label_in(parse_exact("LOS", ref), "en", ref) == "ICE's Los Angeles field office (LOS)"
