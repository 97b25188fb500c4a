"""No English left on Spanish pages: ICE's posting errors on the detention page, the sweeps page's input errors,
and a scan of every page reachable from the Spanish home page.

Run against the warehouse `icemonitor build` makes from ../shared/data (conftest); the English pages keep their
text.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import pytest
from markupsafe import escape as _escape

from icemonitor.analysis import detention
from icemonitor.messages import Message, from_json

POSTING_ERROR_SQL = ("SELECT source_file, reason, source_sheet, table_key, evidence, evidence_message "
                     "FROM detention_exclusions")


def _old_line(r: dict) -> str:
    """The caveat line as the page wrote it before the posting errors became messages (English unchanged)."""
    where = ""
    if r["source_sheet"]:
        where = f" ({r['source_sheet']}" + (f", {r['table_key']}" if r["table_key"] else "") + ")"
    return f"{r['source_file']}: {r['reason']}{where}: {r['evidence']}"


def test_every_posting_error_keeps_its_message_and_renders_in_spanish(warehouse_con) -> None:
    cur = warehouse_con.execute(POSTING_ERROR_SQL)
    names = [d[0] for d in cur.description]
    rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    assert {r["reason"] for r in rows} >= {"same_bytes_reposted", "stale_sheet", "unchanged_table", "value_revised"}
    for r in rows:
        if r["reason"] == "zero_placeholder":  # cells listed, left out of the caveat lines (see posting_errors_for)
            continue
        assert r["evidence_message"], r
        m = from_json(r["evidence_message"])
        assert str(m) == r["evidence"]  # English: the same sentence as the evidence column
        # every one in Spanish, the reasons the readers stopped a table included (readers raise messages)
        assert m.render("es") != r["evidence"], r


def test_posting_error_lines_are_messages_english_unchanged(warehouse_con) -> None:
    files = [f for (f,) in warehouse_con.execute(
        "SELECT DISTINCT source_file FROM detention_exclusions WHERE reason NOT IN ('value_revised', "
        "'zero_placeholder') ORDER BY 1").fetchall()]
    assert files
    for file in files:
        cur = warehouse_con.execute(POSTING_ERROR_SQL + " WHERE source_file = ? AND reason NOT IN ('value_revised', "
                                    "'zero_placeholder') ORDER BY reason, source_sheet, table_key", [file])
        names = [d[0] for d in cur.description]
        rows = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
        lines = detention.posting_errors_for(warehouse_con, file)
        assert [str(line) for line in lines] == [_old_line(r) for r in rows]
        for line, r in zip(lines, rows, strict=True):
            assert isinstance(line, Message)
            assert r["evidence"] not in line.render("es")


def test_the_spanish_detention_page_shows_posting_errors_in_spanish(warehouse_client, warehouse_con) -> None:
    caveats = [c for c in detention.detained_now(warehouse_con).caveats if isinstance(c, Message)
               and "evidence" in c.params]
    en = warehouse_client.get("/detention?lang=en")
    es = warehouse_client.get("/detention?lang=es")
    assert en.status_code == es.status_code == 200
    for c in caveats:
        assert str(_escape(str(c))) in en.text  # as Jinja escapes it
        assert str(_escape(c.render("es"))) in es.text
        assert str(_escape(str(c.params["evidence"]))) not in es.text


@pytest.mark.parametrize(("query", "english", "spanish"), [
    ("from=2019-01-01&to=2018-01-01", "must not be before", "no puede ser anterior a"),
    ("measure=x", "allowed: all, at_large, custodial", "valores permitidos: all, at_large, custodial"),
    ("limit=abc", "expected a whole number", "se esperaba un número entero"),
    ("limit=500", "between 1 and 200", "entre 1 y 200"),
    ("level=x", "allowed: national", "valores permitidos: national"),
    ("from=2x", "expected a date YYYY-MM-DD", "se esperaba una fecha AAAA-MM-DD"),
    ("place=Nowhereville", "unknown place", "no se conoce el lugar"),
])
def test_sweeps_page_input_errors_speak_the_page_language(warehouse_client, query, english, spanish) -> None:
    en = warehouse_client.get(f"/sweeps?lang=en&{query}")
    es = warehouse_client.get(f"/sweeps?lang=es&{query}")
    assert en.status_code == es.status_code == 422
    assert html.escape(english) in en.text and html.escape(spanish) not in en.text
    assert html.escape(spanish) in es.text and html.escape(english) not in es.text


# Words of English sentences that Spanish display text never holds. Source text (names of agencies, release titles,
# citations, claim texts) is shown as written and marked lang="en"; codes, SQL and files are in <code>.
ENGLISH = re.compile(r"\b(the|which|is|are|were|has|have|this|records|no figure)\b")
SKIP_TAGS = {"script", "style", "code", "pre", "kbd", "samp", "textarea"}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class _Text(HTMLParser):
    """The page's text outside code and lang="en" elements, and its same-site links."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[tuple[str, bool]] = []
        self.text: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):  # noqa: ANN001
        a = dict(attrs)
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        if tag not in VOID:
            self.stack.append((tag, tag in SKIP_TAGS or a.get("lang") == "en"))

    def handle_endtag(self, tag):  # noqa: ANN001
        while self.stack and self.stack.pop()[0] != tag:
            pass

    def handle_data(self, data):  # noqa: ANN001
        if not any(skip for _, skip in self.stack):
            self.text.append(data)


def _page_links(links: list[str]) -> list[str]:
    out = []
    for h in links:
        h = h.split("#")[0]
        if (not h.startswith("/") or h.startswith(("//", "/api", "/static"))
                or re.search(r"download|\.(csv|parquet|pdf)", h)):
            continue
        out.append(h if "lang=" in h else h + ("&" if "?" in h else "?") + "lang=es")
    return out


def test_spanish_pages_reachable_from_home_hold_no_english_sentence(warehouse_client) -> None:
    seen: set[str] = set()
    todo, found = ["/?lang=es"], []
    kinds: set[str] = set()
    while todo and len(seen) < 90:
        url = todo.pop(0)
        kind = url.split("?")[0].split("/")[1]
        if url in seen or (kind in kinds and kind in ("place", "sweep", "sanctuary") and len(seen) > 40):
            continue
        seen.add(url)
        kinds.add(kind)
        r = warehouse_client.get(url)
        if "html" not in r.headers.get("content-type", ""):
            continue
        p = _Text()
        p.feed(r.text)
        text = " ".join(" ".join(p.text).split())
        found += [f"{url}: ...{text[max(0, m.start() - 60):m.end() + 40]}..." for m in ENGLISH.finditer(text)][:1]
        todo += _page_links(p.links)
    assert {"", "detention", "sweeps", "place", "data"} <= kinds, kinds
    assert not found, "\n".join(found)


def test_data_preview_months_speak_the_page_language(warehouse_client) -> None:
    """The /data preview's month cells come from the cell macro: imported with the page's context, so its month filter
    knows the page's language (without it, a Spanish preview showed 'Oct 2015')."""
    from icemonitor.messages import formats

    cells = {}
    for lang in ("en", "es"):
        page = warehouse_client.get(f"/data?by=month&aor=LOS&lang={lang}")
        assert page.status_code == 200
        preview = page.text.split('id="preview"', 1)[1].split("</table>", 1)[0]
        cells[lang] = re.findall(r"<tr><td>([^<]*)</td>", preview)
    assert len(cells["es"]) == len(cells["en"]) > 1
    assert [formats.month(_month_of(en), "en") for en in cells["en"]] == cells["en"]
    assert [formats.month(_month_of(en), "es") for en in cells["en"]] == cells["es"]
    assert set(cells["es"]) - set(cells["en"])  # Spanish month names differ ('ene', 'ago', ...)


def _month_of(english: str) -> str:
    """'Oct 2015' -> '2015-10'."""
    import datetime as dt

    return dt.datetime.strptime(english, "%b %Y").strftime("%Y-%m")
