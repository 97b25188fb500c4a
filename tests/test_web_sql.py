"""The web tier runs no figure SQL (issue #11, docs/architecture.md): pages, API, reports and downloads call the
analyses (analysis/*, through web/analyses.py's cache) and render them. A web module that holds SQL text
(SELECT ... FROM) or runs a query (.execute, .sql, .query, .batches, fetch*) must be on the allow-list below with
its reason; a new one fails this test."""

from __future__ import annotations

import ast
import re
from pathlib import Path

WEB = Path(__file__).resolve().parents[1] / "src" / "icemonitor" / "web"

# module (relative to icemonitor/web) -> why it may still run SQL
ALLOWED: dict[str, str] = {
    "db.py": "plumbing: the read-only connection, its result cache, the table and column lists, record batches",
    "export.py": "event-level and whole-table downloads stream rows (not figures) as record batches; the WHERE "
                 "comes from query.Selection (analysis.overview.compiled)",
}
SQL_TEXT = re.compile(r"\bSELECT\b[\s\S]*\bFROM\b|\bFROM\s+information_schema\b")
RUNS_SQL = {"execute", "executemany", "sql", "query", "batches", "fetchall", "fetchone", "fetchdf", "fetchnumpy"}


def _text(node: ast.AST) -> str | None:
    """A string literal's text; an f-string's literal parts with {} for each value."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
    return None


def sql_in(path: Path) -> list[str]:
    """Where a module holds SQL text or runs a query: ['line: what'], empty for none."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        text = _text(node)
        if text is not None and SQL_TEXT.search(text):
            found.append(f"{node.lineno}: SQL text {text[:60]!r}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in RUNS_SQL:
            found.append(f"{node.lineno}: runs .{node.func.attr}(...)")
    return found


def modules_running_sql(web: Path = WEB) -> dict[str, list[str]]:
    out = {}
    for path in sorted(web.rglob("*.py")):
        found = sql_in(path)
        if found:
            out[str(path.relative_to(web))] = found
    return out


def test_web_runs_no_figure_sql_outside_the_allow_list():
    found = modules_running_sql()
    new = {m: lines for m, lines in found.items() if m not in ALLOWED}
    assert not new, ("web modules run SQL: move the figure into an analysis (analysis/*) and call it through "
                     f"web/analyses.py: {new}")
    stale = sorted(set(ALLOWED) - set(found))
    assert not stale, f"these modules no longer run SQL: drop them from ALLOWED: {stale}"


def test_every_allowed_module_says_why():
    assert all(len(reason) > 20 for reason in ALLOWED.values())
    assert all((WEB / m).is_file() for m in ALLOWED)


def test_the_check_sees_sql_in_a_new_web_module(tmp_path):
    """The rule can fail: a new web module with a figure query, or one running SQL it got elsewhere, is reported;
    a module that only calls analyses is not."""
    (tmp_path / "new_page.py").write_text(
        "def figure(wh, f):\n"
        "    return wh.query(f\"SELECT aor, count(*) AS n FROM {f.table} WHERE counted GROUP BY aor\")\n")
    (tmp_path / "other.py").write_text("def figure(con, sql):\n    return con.execute(sql).fetchall()\n")
    (tmp_path / "fine.py").write_text("from icemonitor.web import analyses\n\n"
                                      "def figure(wh, f):\n    return analyses.counts(wh, f, ['aor']).figures\n")
    found = modules_running_sql(tmp_path)
    assert set(found) == {"new_page.py", "other.py"}
    assert any("SQL text" in line for line in found["new_page.py"])
    assert found["other.py"] == ["2: runs .fetchall(...)", "2: runs .execute(...)"]
