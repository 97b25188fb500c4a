"""Reports ready to publish: footnote references that copy cleanly, place names in the report's language, US Letter
by default (A4 on request) and no last page holding a stray line. Checked on the PDF's own text (pdftotext)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from conftest import shared_ref
from icemonitor.present.facts import build_facts
from icemonitor.present.report import write_report

pytestmark = pytest.mark.skipif(not shutil.which("pdftotext") or not shutil.which("pdfinfo"),
                                reason="poppler-utils (pdftotext, pdfinfo) not installed")
MIN_WORDS_ON_LAST_PAGE = 40


@pytest.fixture(scope="module")
def socal(warehouse_path):
    import duckdb

    con = duckdb.connect(str(warehouse_path), read_only=True)
    try:
        yield build_facts(con, "Southern California", "2017-09-24", "2017-09-27", shared_ref)
    finally:
        con.close()


def pdf(rf, lang: str, tmp_path, **kw) -> tuple[str, list[str], str]:
    out = tmp_path / f"report-{lang}-{kw.get('paper', 'default')}.pdf"
    write_report(rf, lang, "pdf", out, **kw)
    info = subprocess.run(["pdfinfo", str(out)], check=True, capture_output=True, text=True).stdout
    n = int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))
    pages = [subprocess.run(["pdftotext", "-f", str(i), "-l", str(i), str(out), "-"], check=True,
                            capture_output=True, text=True).stdout for i in range(1, n + 1)]
    return info, pages, " ".join(" ".join(pages).split())


@pytest.mark.parametrize("lang", ["en", "es"])
def test_letter_by_default_a4_on_request_and_no_stray_last_page(socal, lang, tmp_path):
    info, pages, _ = pdf(socal, lang, tmp_path)
    assert "(letter)" in info, info
    assert len(pages[-1].split()) >= MIN_WORDS_ON_LAST_PAGE, pages[-1]
    info, pages, _ = pdf(socal, lang, tmp_path, paper="a4")
    assert "(A4)" in info, info
    assert len(pages[-1].split()) >= MIN_WORDS_ON_LAST_PAGE, pages[-1]


def test_footnote_references_copy_cleanly_and_places_are_translated(socal, tmp_path):
    total = socal.facts["total"].value
    _, _, es = pdf(socal, "es", tmp_path)
    assert f"recogen {total:,} [" in es  # the copied text reads "323 [2]", never "3232"
    assert "Arrestos de inmigración en el sur de California" in es
    assert "condado de Los Ángeles, CA" in es and "Los Angeles County" not in es
    _, _, en = pdf(socal, "en", tmp_path)
    assert f"{total:,} [" in en and "Southern California" in en
