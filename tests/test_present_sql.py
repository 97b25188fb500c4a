"""Reports run no SQL (issue #11, docs/architecture.md): the report's facts (present/facts.py) and every other
present module call the analyses (analysis/*) and format what they return. No present module may hold SQL text
(SELECT ... FROM) or run a query (.execute, .sql, .query, .batches, fetch*): the check is tests/test_web_sql.py's."""

from __future__ import annotations

from pathlib import Path

from test_web_sql import modules_running_sql

PRESENT = Path(__file__).resolve().parents[1] / "src" / "icemonitor" / "present"


def test_present_runs_no_sql():
    found = modules_running_sql(PRESENT)
    assert not found, f"present modules run SQL: move the figure into an analysis (analysis/*) and call it: {found}"


def test_the_check_sees_sql_in_a_new_present_module(tmp_path):
    """The rule can fail: a new present module with a figure query, or one that runs SQL it was given, is
    reported; one that only calls analyses is not."""
    (tmp_path / "new_facts.py").write_text(
        "def region(con, src, where):\n"
        "    sql = f\"SELECT count(*) FROM {src} WHERE {where.sql()}\"\n"
        "    return con.execute(sql, where.params).fetchone()\n")
    (tmp_path / "fine.py").write_text("from icemonitor.analysis.summary import summary\n\n"
                                      "def region(con, d0, d1):\n"
                                      "    return summary(con, 'arrests', by=[], date_from=d0, date_to=d1)\n")
    found = modules_running_sql(tmp_path)
    assert set(found) == {"new_facts.py"}
    assert any("SQL text" in line for line in found["new_facts.py"])
    assert any("runs .execute" in line for line in found["new_facts.py"])
