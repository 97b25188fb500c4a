"""`icemonitor refresh` end to end through the real catalog, fetch and build (files from ../shared/data)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest

REPO = Path(__file__).absolute().parents[1]


def icemonitor(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "ICEMONITOR_HOME": str(home), "PYTHONPATH": str(REPO / "src")}
    env.pop("ICEMONITOR_MIRROR", None)
    return subprocess.run([sys.executable, "-m", "icemonitor", *args], env=env, capture_output=True, text=True,
                          timeout=900)


@pytest.mark.slow
def test_refresh_cli_through_the_catalog(built_home, tmp_path):
    from test_watch_support import SHARED_DATA

    from icemonitor.catalog.catalog import load_catalog

    home = tmp_path / "home"
    shutil.copytree(built_home / "raw", home / "raw")  # fetched already: the refresh fetches nothing new
    first = icemonitor(home, "refresh", "--mirror", str(SHARED_DATA), "--json")
    assert first.returncode == 0, first.stderr
    out = json.loads(first.stdout)
    catalog = load_catalog()  # the event files, and the aggregates the detention stage reads (detention watches)
    files = {(r.id, f.name) for r in catalog.event_releases() + catalog.aggregate_releases() if r.fetch == "always"
             for f in r.files if f.reader}
    assert out["status"] == "updated" and {tuple(x) for x in out["added"]} == files
    assert out["fetch_errors"] == [] and out["suspect"] == []

    # the first refresh's diff adds every row of the warehouse (built here by the session fixture on its own)
    con = duckdb.connect(str(built_home / "warehouse.duckdb"), read_only=True)
    total = sum(con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]
                for t in ("arrests", "encounters", "removals", "bookins", "detainers", "i213"))
    los = con.execute("SELECT count(*) FROM arrests WHERE counted AND aor = 'LOS' AND fy = 2017").fetchone()[0]
    con.close()
    assert out["rows_added"] == total and out["rows_removed"] == 0
    hist = icemonitor(home, "history", "1", "--json")
    rows = json.loads(hist.stdout)
    assert sum(r["counted_after"] for r in rows if r["table_name"] == "arrests" and r["aor"] == "LOS"
               and "2016-10" <= r["month"] <= "2017-09") == los

    second = icemonitor(home, "refresh", "--json")
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["status"] == "unchanged"
    said = icemonitor(home, "refresh", "--no-deliver", "--lang", "es")  # the summary in the CLI's language
    assert said.returncode == 0, said.stderr
    assert "nada nuevo: el almacén de datos está al día actualización 3: sin cambios; 0 hallazgo(s) nuevo(s); 0 alerta(s) enviada(s), 0 fallida(s)" in " ".join(said.stdout.split())

    add = icemonitor(home, "watch", "add", "--place", "LOS", "--watch", "at-large-rise", "--email", "a@example.org")
    assert add.returncode == 0, add.stderr
    check = icemonitor(home, "watch", "check", "1", "--from", "2017-01", "--to", "2017-09", "--no-send")
    assert check.returncode == 0 and "8 new finding(s)" in check.stdout, check.stdout + check.stderr

    # a county watch over the places stage's landmark resolution, against a count written here in SQL
    from test_watch_findings import months_between, poisson_lower

    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    counts = dict(con.execute(
        "SELECT strftime(a.event_date, '%Y-%m'), count(*) FROM arrests a WHERE a.counted AND a.method_class = 'at_large' "
        "AND (a.aor, a.landmark) IN (SELECT aor, landmark FROM landmark_resolution WHERE county_fips = '06037') "
        "GROUP BY 1").fetchall())
    con.close()
    expected = []
    for m in months_between("2017-01", "2017-09"):
        base = months_between(str(pd.Period(m) - 12), str(pd.Period(m) - 1))
        mean = sum(counts.get(b, 0) for b in base) / 12
        if counts.get(m, 0) >= 10 and poisson_lower(counts.get(m, 0)) > mean:
            expected.append(m)
    assert expected, "Los Angeles County had at-large rises in 2017"
    add = icemonitor(home, "watch", "add", "--place", "Los Angeles County, CA", "--watch", "at-large-rise",
                     "--email", "a@example.org")
    assert add.returncode == 0, add.stderr
    check = icemonitor(home, "watch", "check", "2", "--from", "2017-01", "--to", "2017-09", "--no-send")
    assert check.returncode == 0 and f"{len(expected)} new finding(s)" in check.stdout, check.stdout + check.stderr
    log = json.loads(icemonitor(home, "alerts", "log", "--json").stdout)
    assert sorted(r["period"] for r in log if r["place"] == "06037") == expected
