"""Detention watches end to end on the real postings and DDP's facility daily population: a watch is created
from the CLI over a warehouse holding the postings up to a date, the next refresh brings the next posting, and
exactly one alert per new posting is queued (none again on a re-run); a facility watch alerts on the days a
newer version of the facility file shows its population rising past the threshold, checked against a pandas
count of the raw file; a stale-posting watch names ICE's error in a new posting."""

from __future__ import annotations

import datetime as dt
import threading
import json
import sqlite3
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from typer.testing import CliRunner

from icemonitor.catalog.catalog import load_catalog
from icemonitor.cli import app
from test_watch_support import SHARED_DATA, Archive, run_refresh

FACILITY_FILE = "facilities-daily-population-latest.parquet"
FIRST = ["2025-06-06_FY25_detentionStats06052025.xlsx", "2025-06-21_FY25_detentionStats06202025.xlsx"]
JANUARY = "2026-01-09_FY26_detentionStats01082026.xlsx"
APRIL = "FY26_detentionStats_04092026.xlsx"
CUT = dt.date(2026, 1, 31)  # the first facility file stops here; the next version runs to 10 Mar 2026
THRESHOLD = 1000


def _catalog_file(name: str):
    (hit,) = [(r, f) for r in load_catalog().aggregate_releases() for f in r.files if f.name == name]
    return hit


def _add(archive: Archive, name: str, path: Path | None = None) -> None:
    r, f = _catalog_file(name)
    archive.files.append((r.id, f.name, path or SHARED_DATA / f.mirror_path, f.reader, dict(f.options)))


def _raw_crossings(path: Path, code: str, threshold: int, after: dt.date) -> list[tuple[dt.date, int, int]]:
    """Days after `after` on which the facility held more than `threshold` and the day before at most it (pandas)."""
    df = pd.read_parquet(path, columns=["detention_facility_code", "date", "n_detained"])
    df = df[df["detention_facility_code"] == code].groupby("date", as_index=False)["n_detained"].sum()
    df["date"] = pd.to_datetime(df["date"]).dt.date
    df = df.sort_values("date")
    df["before"], df["day_before"] = df["n_detained"].shift(), df["date"].shift()
    hit = df[(df["n_detained"] > threshold) & (df["before"] <= threshold)
             & (df["day_before"] == df["date"] - dt.timedelta(days=1)) & (df["date"] > after)]
    return [(d, int(n), int(b)) for d, n, b in zip(hit["date"], hit["n_detained"], hit["before"])]


def _facility_crossing_after_cut(path: Path) -> str:
    """A facility whose population crosses the threshold after CUT (there are such days in the real file)."""
    df = pd.read_parquet(path, columns=["detention_facility_code"])
    for code in sorted(df["detention_facility_code"].dropna().unique()):
        if _raw_crossings(path, code, THRESHOLD, CUT):
            return code
    raise AssertionError("no facility crosses the threshold after the cut")


def _findings(home: Path, kind: str) -> list[sqlite3.Row]:
    con = sqlite3.connect(home / "state.sqlite")
    con.row_factory = sqlite3.Row
    try:
        return con.execute("SELECT f.*, d.status AS delivery FROM findings f JOIN deliveries d ON d.finding_id = f.id "
                           "WHERE f.kind = ? ORDER BY f.id", [kind]).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def full_facility_file() -> Path:
    return SHARED_DATA / _catalog_file(FACILITY_FILE)[1].mirror_path


def test_detention_watches_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, full_facility_file: Path) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("ICEMONITOR_HOME", str(home))
    early = tmp_path / "upstream" / FACILITY_FILE  # the facility file as it stood at CUT: an earlier version
    early.parent.mkdir()
    pd.read_parquet(full_facility_file).loc[lambda d: pd.to_datetime(d["date"]).dt.date <= CUT].to_parquet(early)

    archive = Archive()
    for name in FIRST:
        _add(archive, name)
    _add(archive, FACILITY_FILE, early)
    first = run_refresh(home, archive)
    assert first.status == "updated" and len(first.added) == 3

    code = _facility_crossing_after_cut(full_facility_file)
    runner = CliRunner()
    ids = {}
    for kind, extra in (("detention-posting", []), ("stale-posting", ["--max-age-days", "9999"]),
                        ("facility-threshold", ["--facility", code.lower(), "--threshold", str(THRESHOLD)])):
        res = runner.invoke(app, ["watch", "add", "--watch", kind, "--email", "desk@example.org", *extra])
        assert res.exit_code == 0, res.output
        ids[kind] = int(res.output.split(":")[0].split()[-1])
    res = runner.invoke(app, ["watch", "add", "--watch", "facility-threshold", "--facility", "NOSUCHCODE",
                              "--threshold", "5", "--email", "desk@example.org"])
    assert res.exit_code == 2 and "no such facility code" in res.output
    res = runner.invoke(app, ["watch", "list", "--json"])
    listed = {w["kind"]: w for w in json.loads(res.output)}
    assert json.loads(listed["facility-threshold"]["options"]) == {"threshold": THRESHOLD, "since": str(CUT)}
    assert listed["facility-threshold"]["place"] == code

    # the next posting (January 2026, with ICE's stale EOFY2020 sheet) and the next facility file arrive
    _add(archive, JANUARY)
    archive.set_path(FACILITY_FILE, full_facility_file)
    second = run_refresh(home, archive)
    assert second.status == "updated" and second.added == [(_catalog_file(JANUARY)[0].id, JANUARY)]
    (posting,) = _findings(home, "detention-posting")
    data = json.loads(posting["data"])
    assert (data["source_file"], data["detained"], posting["period"]) == (JANUARY, 68990, "2026-01-07")
    assert "68,990 people detained" in posting["body"] and "stale_sheet" in data["errors"]
    assert posting["delivery"] == "pending"
    # one question, one number: the posting's figure is `icemonitor detention now --as-of` its stated date's
    res = runner.invoke(app, ["detention", "now", "--as-of", data["stated_as_of"], "--json"])
    assert res.exit_code == 0, res.output
    now = json.loads(res.output)
    assert now["extra"]["total"] == data["detained"] and now["extra"]["as_of"] == data["stated_as_of"]
    assert now["extra"]["postings"] == [JANUARY] and data["releases"] == now["releases"]
    stale = _findings(home, "stale-posting")
    assert [s["period"] for s in stale] == ["2026-01-07/stale_sheet"]
    assert "Detention EOFY2020" in stale[0]["body"]
    crossings = _findings(home, "facility-threshold")
    expected = _raw_crossings(full_facility_file, code, THRESHOLD, CUT)
    assert [(c["period"], json.loads(c["data"])["held"], json.loads(c["data"])["before"]) for c in crossings] == \
        [(str(d), n, b) for d, n, b in expected]

    # then April's; re-running finds nothing new and queues nothing twice
    _add(archive, APRIL)
    run_refresh(home, archive)
    run_refresh(home, archive)
    postings = _findings(home, "detention-posting")
    assert [json.loads(p["data"])["source_file"] for p in postings] == [JANUARY, APRIL]
    assert json.loads(postings[1]["data"])["detained"] == 60311
    assert len(_findings(home, "stale-posting")) == 1 and len(_findings(home, "facility-threshold")) == len(expected)

    # a watch over past months on request: the same crossings are not queued again, earlier ones are
    res = runner.invoke(app, ["watch", "check", str(ids["facility-threshold"]), "--from", "2025-01", "--to", "2026-03",
                              "--no-send"])
    assert res.exit_code == 0, res.output
    earlier = [d for d, _, _ in _raw_crossings(full_facility_file, code, THRESHOLD, dt.date(2024, 12, 31))
               if d <= dt.date(2026, 3, 31)]
    assert f"{len(earlier) - len(expected)} new finding(s)" in res.output
    assert sorted(c["period"] for c in _findings(home, "facility-threshold")) == sorted(map(str, earlier))


def test_stale_watch_alerts_once_per_late_stated_date(tmp_path: Path) -> None:
    """The newest stated date older than the watch's limit gives one alert for that date, however often the
    watches run; a watch created before there is a warehouse takes its baseline without alerting."""
    from icemonitor.watch import detention_watches, state

    home = tmp_path / "home"
    con = state.connect(home)
    code, label, options = detention_watches.settings(None, "stale-posting", None, None, 30)
    wid = detention_watches.add(con, None, "stale-posting", code, label, options, "email", "a@example.org", None)
    archive = Archive()
    _add(archive, APRIL)
    run_refresh(home, archive, run_watches=False)
    wh = home / "warehouse.duckdb"
    assert detention_watches.evaluate_detention(con, wh, None, dt.date(2026, 5, 1)) == []  # baseline taken
    assert con.execute("SELECT count(*) FROM watch_seen WHERE watch_id = ?", [wid]).fetchone()[0] == 1
    assert detention_watches.evaluate_detention(con, wh, None, dt.date(2026, 5, 4)) == []  # 30 days: not late
    (late,) = detention_watches.evaluate_detention(con, wh, None, dt.date(2026, 5, 5))
    assert detention_watches.evaluate_detention(con, wh, None, dt.date(2026, 6, 5)) == []
    row = con.execute("SELECT period, body FROM findings WHERE id = ?", [late]).fetchone()
    assert row["period"] == "2026-04-04/late" and "states Apr 4, 2026, 31 days before May 5, 2026" in row["body"]
    # the same watch in Spanish: its alert said in Spanish, its dates in Spanish
    warehouse = duckdb.connect(str(wh), read_only=True)
    wid_es = detention_watches.add(con, warehouse, "stale-posting", code, label, options, "email", "b@example.org",
                                   None, lang="es")
    warehouse.close()
    (late_es,) = detention_watches.evaluate_detention(con, wh, None, dt.date(2026, 5, 5))
    row = con.execute("SELECT watch_id, title, body FROM findings WHERE id = ?", [late_es]).fetchone()
    assert row["watch_id"] == wid_es and row["title"] == "No hay una nueva publicación de detención del ICE"
    assert "declara el 4 abr 2026, 31 días antes del 5 may 2026; el ICE publica unas dos veces al mes." in row["body"]
    con.close()


def test_every_staleness_code_has_words_in_both_languages() -> None:
    """The codes the analysis selects (detention_changes.STALENESS, the one source) each have the alert's words,
    in English and Spanish, and the watch names no code the analysis does not select."""
    from icemonitor.analysis.detention_changes import STALENESS
    from icemonitor.watch.detention_findings import STALE_REASONS

    assert tuple(STALE_REASONS) == STALENESS
    for code in STALENESS:
        words = STALE_REASONS[code]
        assert words.render("en") and words.render("es") and words.render("es") != words.render("en"), code


PAGE = """<html><body><h1>Detention Management</h1>
<p><a href="/doclib/detention/FY26_detentionStats_04092026.xlsx">FY 2026 Detention Statistics</a></p>
<p><a href="/doclib/detention/FY26_detentionStats_05072026.xlsx">FY 2026 Detention Statistics (May)</a></p>
</body></html>"""


def test_refresh_discovers_the_next_posting_on_ices_page(tmp_path: Path) -> None:
    """`refresh --detention-page`: the page (played from loopback) links April's posting and a workbook link that
    answers with an HTML error page; April's is archived, read, and alerted once; the bad link is reported."""
    from test_detention_discovery import Handler, Site

    from icemonitor.warehouse.detention_step import discovered_sources
    from icemonitor.watch import detention_watches, state
    from icemonitor.watch.refresh import plain_build, refresh, with_discovery

    home = tmp_path / "home"
    archive = Archive()
    for name in (*FIRST, JANUARY):
        _add(archive, name)
    run_refresh(home, archive)
    con = state.connect(home)
    import duckdb

    wh = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    detention_watches.add(con, wh, "detention-posting", "US", "United States", {}, "email", "desk@example.org", None)
    wh.close()
    con.close()

    server = Site(("127.0.0.1", 0), Handler)
    server.files = {"/detain/detention-management": PAGE.encode(),
                    "/doclib/detention/FY26_detentionStats_04092026.xlsx": _path_of(APRIL).read_bytes(),
                    "/doclib/detention/FY26_detentionStats_05072026.xlsx": b"<html>Page not found</html>"}
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        page = f"http://127.0.0.1:{server.server_address[1]}/detain/detention-management"
        listing = lambda h: archive.list_sources(h) + discovered_sources(home=h)  # noqa: E731
        found, again = (refresh(home, fetch=with_discovery(page, archive.fetch), list_sources=listing, build=plain_build)
                        for _ in range(2))
    finally:
        server.shutdown()
        server.server_close()
    assert [k[1] for k in found.added] == [f"{_archived_folder(home)}_{APRIL}"]
    assert any("FY26_detentionStats_05072026.xlsx" in e and "HTML page" in e for e in found.fetch_errors)
    (alert,) = _findings(home, "detention-posting")
    assert json.loads(alert["data"])["detained"] == 60311 and alert["period"] == "2026-04-04"
    assert again.status == "unchanged" and again.findings == [] and len(_findings(home, "detention-posting")) == 1


def _path_of(name: str) -> Path:
    return SHARED_DATA / _catalog_file(name)[1].mirror_path


def _archived_folder(home: Path) -> str:
    from icemonitor.catalog.detention_discovery import discovered_versions

    (v,) = discovered_versions(home)
    return v.path.parent.name


def test_staleness_evidence_in_the_watchs_language(tmp_path: Path) -> None:
    """ICE's staleness error's evidence (a table of April 2021's second posting identical to the first's under a
    newer date) is said in the alert's language, its dates as dates; the finding's data keeps the English text;
    `detention errors` says the same evidence per --lang."""
    from icemonitor.watch import detention_findings

    first, second = "2021-04-01_FY21_detention-stats_0331.xlsx", "2021-04-15_FY21_detention-stats_0414.xlsx"
    home = tmp_path / "home"
    archive = Archive()
    for name in (first, second):
        _add(archive, name)
    run_refresh(home, archive, run_watches=False)
    wh = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        found = detention_findings.posting_errors(wh, 1, {second})
    finally:
        wh.close()
    (table,) = [f for f in found if f.period.endswith("/unchanged_table")]
    en, es = table.body.render("en"), table.body.render("es")
    assert f"table identical to {first} (Detention FY21 YTD!" in en and "stated Apr 10, 2021" in en
    assert "Evidencia: " in es and f"tabla idéntica a la de {first}" in es and "10 abr 2021" in es
    assert "Apr 10, 2021" not in es and "stated" not in es
    assert table.data["evidence"][0] == str(table.data["evidence"][0]) and "stated Apr 10, 2021" in json.dumps(
        table.data["evidence"])
    runner = CliRunner()
    res = runner.invoke(app, ["detention", "errors", "--posting", second, "--reason", "unchanged_table", "--lang", "es"],
                        env={"ICEMONITOR_HOME": str(home)})
    assert res.exit_code == 0, res.output
    assert "10 abr 2021" in " ".join(res.output.split()) and "Apr 10" not in res.output
