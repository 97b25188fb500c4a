"""The intake's local enforcement context over the real warehouse: place matching (never a guess), coverage,
sanctuary status with its definition, and recent sweeps checked against counts taken from the raw files."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from conftest import SHARED_DATA, shared_ref

from icemonitor.web.intake_context import IntakeContext, resolve

pytestmark = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="../shared/data is not beside the repo")
TODAY = dt.date(2026, 11, 28)
LA_RAW = SHARED_DATA / "ice" / "bln-la-aor-arrests" / "la_arrests_2025-06-01_10_transcribed.csv"
FY19 = SHARED_DATA / "ice" / "uwchr-ice-enforce-fy16-19" / "EROArrests_FY2019.csv.gz"


@pytest.fixture(scope="module")
def context(warehouse_path):
    return IntakeContext(warehouse_path, shared_ref, today=lambda: TODAY)


def la_last_date() -> dt.date:
    """The last arrest date in the LA AOR release, read from the raw transcription with pandas."""
    df = pd.read_csv(LA_RAW, dtype=str)
    col = next(c for c in df.columns if "date" in c.lower())
    return pd.to_datetime(df[col], errors="coerce").max().date()


def test_los_angeles_county(context):
    ctx = context("Los Angeles County, CA")
    assert ctx["Place"].startswith("Los Angeles County, CA (county 06037)") and "LOS" in ctx["Place"]
    last = la_last_date()
    assert f"AOR(s) LOS run to {last}" in ctx["Records"] and f"{(TODAY - last).days} days before today" in ctx["Records"]
    # California's state law (SB 54, in force since 2018) makes it a sanctuary under the default definition
    today = ctx[f"Sanctuary status today ({TODAY})"]
    assert today.startswith("yes:") and "Definition 'state-law' (the default)" in today
    assert ctx[f"Sanctuary status on {last} (last covered date)"].startswith("yes:")
    window = f"Sweeps {last - dt.timedelta(days=89)} to {last}"
    # the 2025 LA release covers June 1-10 only: ten days, no 8-week baseline, so no sweep can be measured (which is
    # not 'no sweep', issue #11)
    assert ctx[window].startswith("cannot be measured (this is not 'no sweep'): ") and "none detected" not in ctx[window]
    assert "arrests on 10 of these 90 days" in ctx[window] and "needs at least 23 days with records" in ctx[window]
    assert "Sweep definition" in ctx and all(isinstance(v, str) for v in ctx.values())


def test_fips_and_spanish_and_city_forms_give_the_same_county(context):
    la = context("Los Angeles County, CA")
    for text in ("06037", "condado de Los Ángeles", "Santa Monica, CA", "los angeles county ca"):
        ctx = context(text)
        assert ctx["Place"].startswith("Los Angeles County, CA (county 06037)"), text
        assert {k: v for k, v in ctx.items() if k != "Place"} == {k: v for k, v in la.items() if k != "Place"}
    assert "read as a city" in context("Santa Monica, CA")["Place"]


def test_aor_with_a_recent_sweep(context):
    ctx = context("DAL")
    assert ctx["Place"].startswith("Dallas") and "(ICE area of responsibility DAL)" in ctx["Place"]
    assert ctx[f"Sanctuary status today ({TODAY})"].startswith("not available")  # answered for counties and states
    sweep = ctx["Sweep 1 (most recent first)"]
    # the same sweep, with the same size, as `icemonitor sweeps --place DAL --measure all` (the model runs over the
    # whole series the 90 days lie in, so every interface sees one size)
    assert sweep.startswith("2019-07-19 to 2019-07-21 (3 days), AOR DAL")
    assert sweep.endswith("release uwchr-ice-enforce-fy16-19")
    # observed = the raw FY2019 file's arrests in the Dallas AOR on those three days (pandas, no warehouse)
    raw = pd.read_csv(FY19, sep="|", skiprows=5, dtype=str, keep_default_na=False,
                      usecols=["Area of Responsibility", "Apprehension Date"])
    days = pd.to_datetime(raw["Apprehension Date"], format="%m/%d/%Y", errors="coerce")
    dallas = raw["Area of Responsibility"].str.strip().str.startswith("Dallas")
    observed = int((dallas & days.between("2019-07-19", "2019-07-21")).sum())
    assert f": {observed} counted arrests observed vs " in sweep


def test_unrecognised_and_ambiguous_places_are_never_guessed(context):
    for text in ("near the big store on 5th", "", "Springfield"):
        ctx = context(text)
        assert list(ctx) == ["Place"] and ctx["Place"].startswith("Not matched to a place"), text
    houston = context("Houston")["Place"]
    assert "several counties" in houston and "Harris County, TX" in houston and "Houston County, AL" in houston
    # 'Houston, TX' is both Houston County and the city of Houston (Harris County): both are named, neither picked
    both = resolve("Houston, TX", shared_ref)
    assert both.place is None and "Houston County, TX" in both.how and "Harris County, TX" in both.how
    assert resolve("Houston County, TX", shared_ref).place.code == "48225"
    assert resolve("Pasadena, CA", shared_ref).place.code == "06037"  # a city with no county of its name


def test_staff_request_page_shows_the_context(warehouse_path, tmp_path, monkeypatch):
    """The dashboard as `serve` builds it over the real warehouse: a reviewer sees the panel, escaped."""
    from fastapi.testclient import TestClient
    from intake_support import add_staff, logged_in, make_settings, submit

    from icemonitor.intake.keys import KEY_ENV
    from icemonitor.web.app import create_app
    from icemonitor.web.cli import mount_intake_with_monitor

    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'intake.sqlite'}")
    monkeypatch.setenv(KEY_ENV, str(settings.key_file))
    monkeypatch.setenv("ICEMONITOR_INTAKE_DB", settings.db_url)
    app = create_app(warehouse_path=warehouse_path, ref=shared_ref)
    assert mount_intake_with_monitor(app, tmp_path / "home") is True
    client = TestClient(app, base_url="https://testserver", follow_redirects=False)
    _, la = submit(client, place="Santa Monica, CA", phone="555-0100", situation="other")
    _, odd = submit(client, place="<script>alert(1)</script> County", phone="555-0101", situation="other")
    token = logged_in(client, add_staff(app.state.intake, "rev", ["reviewer"]))
    assert token
    page = client.get(f"/staff/requests/{la}").text
    assert "Local enforcement context" in page and "Los Angeles County, CA (county 06037)" in page
    assert f"Sanctuary status today ({dt.date.today()})" in page and "state-law" in page
    page = client.get(f"/staff/requests/{odd}").text
    assert "Not matched to a place" in page and "<script>alert(1)</script>" not in page
