"""The watches run no figure SQL (issue #11, docs/architecture.md): a watch's figures (monthly counts, months with
records, releases, criminality fields, detention postings, facility crossings, stale postings, the known AORs) come
from analyses (analysis/watch_figures.py, analysis/detention_changes.py, analysis/holdings.py, ...), so a watch's
figure is the CLI's and the API's for the same question. SQL stays only in the watch's own state store (the sqlite
state database: watches, findings, outbox, refresh history) and in the refresh's bookkeeping of what the warehouse
loaded. A watch module that holds SQL text or runs a query must be on the allow-list below with its reason, and its
SQL text may name only the state database's tables (or the few warehouse tables its reason names); a new one
fails this test."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from test_web_sql import _text, modules_running_sql, sql_in

WATCH = Path(__file__).resolve().parents[1] / "src" / "icemonitor" / "watch"

# module (relative to icemonitor/watch) -> why it may run SQL
ALLOWED: dict[str, str] = {
    "state.py": "the watch's own sqlite state database: its schema, migrations and connection",
    "alerts.py": "state store: queues findings and their outbox rows, cancels a removed watch's deliveries",
    "delivery.py": "state store: the outbox (deliveries, delivery_log): claiming, retrying and logging sends",
    "cli.py": "state store: lists and removes watches, shows refreshes, findings and deliveries",
    "detention_watches.py": "state store: detention watches and the postings each has seen (watch_seen)",
    "intake_alerts.py": "state store: the intake-urgent watches an intake request alerts",
    "refresh.py": "state store (refreshes, release_files, release_diff) and the build's bookkeeping: which release "
                  "files the warehouse loaded (its releases table), to keep versions, not a figure",
    "snapshot.py": "state store (snapshot) and change detection: rows per table, release, month and AOR of the "
                   "warehouse, to find the newly covered months a watch runs over, not a figure",
}
STATE_SCHEMA = (WATCH / "state.py").read_text(encoding="utf-8")
STATE_TABLES = set(re.findall(r"CREATE TABLE (?:IF NOT EXISTS )?(\w+)", STATE_SCHEMA))
# warehouse tables a module's reason names (not figures): module -> tables
WAREHOUSE_BOOKKEEPING = {"refresh.py": {"releases"}, "snapshot.py": {"information_schema"}}
TABLE_NAMED = re.compile(r"\b(?:FROM|JOIN|INTO|UPDATE|TABLE)\s+(?!SET\b)\"?([A-Za-z_][\w.]*)", re.IGNORECASE)


def tables_named(path: Path) -> set[str]:
    """The tables a module's SQL text names (FROM, JOIN, INTO, UPDATE, TABLE), schema prefixes dropped."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        text = _text(node)
        if text and re.search(r"\b(SELECT|INSERT|UPDATE|DELETE|CREATE)\b", text):
            out |= {t.split(".")[0] for t in TABLE_NAMED.findall(text)}
    return out


def test_watches_run_no_figure_sql_outside_the_allow_list():
    found = modules_running_sql(WATCH)
    new = {m: lines for m, lines in found.items() if m not in ALLOWED}
    assert not new, ("watch modules run SQL: move the figure into an analysis (analysis/*) and call it: "
                     f"{new}")
    stale = sorted(set(ALLOWED) - set(found))
    assert not stale, f"these modules no longer run SQL: drop them from ALLOWED: {stale}"


def test_the_figure_modules_hold_no_sql():
    """The three modules that used to count in the warehouse now only call analyses."""
    for m in ("findings.py", "places.py", "detention_findings.py"):
        assert sql_in(WATCH / m) == [], m


def test_allowed_modules_name_only_state_tables():
    """An allowed module's SQL names only the state database's tables (and the bookkeeping its reason names), never
    a warehouse table a figure would count (arrests, detention_postings, ...)."""
    assert {"watches", "findings", "deliveries", "watch_seen"} <= STATE_TABLES
    for m in ALLOWED:
        named = tables_named(WATCH / m) - STATE_TABLES - WAREHOUSE_BOOKKEEPING.get(m, set())
        assert not named, f"{m} names warehouse tables in SQL: {sorted(named)}"


def test_every_allowed_module_says_why():
    assert all(len(reason) > 20 for reason in ALLOWED.values())
    assert all((WATCH / m).is_file() for m in ALLOWED)


def test_the_check_sees_sql_in_a_new_watch_module(tmp_path):
    """The rules can fail: a new watch module with a figure query is reported, and so is warehouse SQL slipped into
    an allowed module; a module that only calls analyses is not."""
    (tmp_path / "new_watch.py").write_text(
        "def rise(con, aor):\n"
        "    return con.execute(\"SELECT strftime(event_date, '%Y-%m') AS m, count(*) FROM arrests \"\n"
        "                       \"WHERE counted AND aor = ? GROUP BY m\", [aor]).fetchall()\n")
    (tmp_path / "fine.py").write_text("from icemonitor.analysis import watch_figures\n\n"
                                      "def rise(con, q):\n    return watch_figures.monthly(con, q).figures\n")
    found = modules_running_sql(tmp_path)
    assert set(found) == {"new_watch.py"}
    assert any("SQL text" in line for line in found["new_watch.py"])
    assert tables_named(tmp_path / "new_watch.py") == {"arrests"}
    (tmp_path / "alerts.py").write_text(
        "def f(con):\n    return con.execute('SELECT p.source_file FROM detention_postings p JOIN findings f "
        "ON f.place = p.source_file').fetchall()\n")
    assert tables_named(tmp_path / "alerts.py") - STATE_TABLES == {"detention_postings"}
