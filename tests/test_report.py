"""Reports: figures against the raw files, every number in the rendered text against the fact it cites,
escaping of source text, Spanish and English conventions, the PDF and the CLI."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from conftest import SHARED_DATA, shared_ref
from icemonitor.places.place_names import parse_place
from icemonitor.present.facts import ReportFacts, build_facts
from icemonitor.present.report import render, write_report

NATIONWIDE = SHARED_DATA / "ice" / "uwchr-ice-enforce-fy16-19"
SEATTLE = SHARED_DATA / "ice" / "uwchr-seattle-aor-fy12-19"
AT_LARGE = {"Located", "Non-Custodial Arrest"}  # the at-large methods, as the report's footnote defines them
LA = ("LOS", "2017-09-24", "2017-09-27")
SOCAL = ("Southern California", "2017-09-24", "2017-09-27")
SEA = ("SEA", "2015-03-02", "2015-03-08")  # Seattle production: Most Serious Conviction recorded from FY2015
LA_COUNTY = ("Los Angeles County, CA", "2017-09-24", "2017-09-27")
CASES = {"la": LA, "socal": SOCAL, "sea": SEA, "lac": LA_COUNTY}


# ------------------------------------------------------------------ independent counts from the raw files

def _nationwide(*fys: int) -> pd.DataFrame:
    frames = [pd.read_csv(NATIONWIDE / f"EROArrests_FY{fy}.csv.gz", sep="|", skiprows=5, dtype=str,
                          keep_default_na=False) for fy in fys]
    df = pd.concat(frames, ignore_index=True)
    df["day"] = pd.to_datetime(df["Apprehension Date"], format="%m/%d/%Y").dt.date
    return df


@pytest.fixture(scope="module")
def raw_arrests() -> pd.DataFrame:
    return _nationwide(2017, 2018)


@pytest.fixture(scope="module")
def raw_seattle() -> pd.DataFrame:
    df = pd.read_csv(SEATTLE / "arrests.csv.gz", sep="|", skiprows=6, dtype=str, keep_default_na=False)
    df["day"] = pd.to_datetime(df["Arrest Date"], format="%m/%d/%Y").dt.date
    return df


@pytest.fixture(scope="module")
def con(warehouse_path):
    c = duckdb.connect(str(warehouse_path), read_only=True)
    yield c
    c.close()


@pytest.fixture(scope="module")
def facts(con) -> dict[str, ReportFacts]:
    return {name: build_facts(con, place, d0, d1, shared_ref) for name, (place, d0, d1) in CASES.items()}


def _between(df: pd.DataFrame, d0: str, d1: str) -> pd.DataFrame:
    return df[(df["day"] >= dt.date.fromisoformat(d0)) & (df["day"] <= dt.date.fromisoformat(d1))]


def test_la_figures_equal_raw_counts(facts, raw_arrests):
    f = facts["la"].facts
    period = _between(raw_arrests, LA[1], LA[2])
    la = period[period["Area of Responsibility"] == "Los Angeles Area of Responsibility"]
    assert f["total"].value == len(la) > 0
    assert f["at_large"].value == la["Apprehension Method"].isin(AT_LARGE).sum()
    assert f["national_total"].value == len(period)
    assert f["national_share"].value == pytest.approx(len(la) / len(period))
    # baseline: the same weekdays 1-4 weeks before and after
    la_all = raw_arrests[raw_arrests["Area of Responsibility"] == "Los Angeles Area of Responsibility"]
    d0, d1 = dt.date.fromisoformat(LA[1]), dt.date.fromisoformat(LA[2])
    windows = [la_all[(la_all["day"] >= d0 + dt.timedelta(weeks=w)) & (la_all["day"] <= d1 + dt.timedelta(weeks=w))]
               for w in (-4, -3, -2, -1, 1, 2, 3, 4)]
    assert f["baseline_windows"].value == 8
    assert f["baseline_mean"].value == pytest.approx(sum(len(w) for w in windows) / 8)
    assert f["baseline_at_large_mean"].value == pytest.approx(
        sum(w["Apprehension Method"].isin(AT_LARGE).sum() for w in windows) / 8)
    assert "uwchr-ice-enforce-fy16-19" in f["total"].releases
    # the release records no criminal history: the report says so and gives no share
    assert facts["la"].criminality_recorded == "none" and f["crim_not_recorded"].value == len(la)
    assert not any(k.endswith("_convicted_share") for k in f)


def test_socal_and_county_breakdown(facts, raw_arrests, con):
    f = facts["socal"].facts
    period = _between(raw_arrests, SOCAL[1], SOCAL[2])
    aors = {"Los Angeles Area of Responsibility": "LOS", "San Diego Area of Responsibility": "SND"}
    rows = period[period["Area of Responsibility"].isin(aors)].copy()
    assert f["total"].value == len(rows)
    # counties: the raw rows joined to the warehouse's landmark_resolution by (AOR code, landmark text)
    rows["aor"] = rows["Area of Responsibility"].map(aors)
    res = con.execute("SELECT aor, landmark, level, kind, county_fips FROM landmark_resolution").fetchdf()
    merged = rows.merge(res, how="left", left_on=["aor", "Apprehension Landmark"], right_on=["aor", "landmark"])
    assert len(merged) == len(rows)  # one resolution per (aor, landmark)
    event = merged[(merged["level"] == "county") & (merged["kind"] == "event")]
    proxy = merged[(merged["level"] == "county") & (merged["kind"] == "office_proxy")]
    assert f["county_event"].value == len(event)
    assert f["county_office_proxy"].value == len(proxy)
    assert f["county_state"].value == (merged["level"] == "state").sum()
    assert sum(f[f"county_{g}"].value for g in ("event", "office_proxy", "state", "unresolved")) == len(rows)
    assert f["county:06037"].value == (event["county_fips"] == "06037").sum()
    assert {c.fips for c in facts["socal"].counties} >= {"06037", "06073"}  # LA and San Diego counties
    # the LA Safe City operation (24-26 Sept 2017) is detected
    sweeps = facts["socal"].sweeps
    assert any(s.level == "aor" and s.place == "LOS" for s in sweeps)


def test_county_report_shares_and_sweeps(facts):
    rf = facts["lac"]
    la = facts["la"].facts
    # the county's share of its AOR; sweeps on the county's rows are the county's (never labelled as the AOR's)
    assert rf.has_region and rf.facts["region_total"].value == la["total"].value
    assert rf.facts["region_share"].value == pytest.approx(rf.facts["total"].value / la["total"].value)
    assert rf.sweeps and all(s.level in ("county", "place") for s in rf.sweeps)
    assert rf.sweeps[0].place == "Los Angeles County, CA"
    assert rf.facts["sweep0_start"].value == dt.date(2017, 9, 24)
    assert [p.jurisdiction for p in rf.policies][:1] == ["Los Angeles County, CA"]


def test_seattle_criminal_history_equals_raw(facts, raw_seattle):
    rf = facts["sea"]
    rows = _between(raw_seattle, SEA[1], SEA[2])
    assert rf.facts["total"].value == len(rows) > 0
    assert rf.criminality_recorded == "all" and len(rf.criminality) == 1
    row = rf.criminality[0]
    assert row.field == "seattle_most_serious_conviction" and not row.records_pending
    convicted = (rows["Most Serious Conviction"].str.strip() != "").sum()
    assert rf.facts["crim0_convicted_share"].value == pytest.approx(convicted / len(rows))
    assert rf.facts["crim0_no_record_share"].value == pytest.approx(1 - convicted / len(rows))
    # no release covers every AOR in 2015: no national share, and the report says why
    assert not rf.has_national and "national_total" not in rf.facts and "cav_no_national" in rf.caveats
    # state laws per state of the AOR; local 287(g) agreements county by county over the AOR's counties
    laws = [p for p in rf.policies if p.definition.startswith("state-law")]
    assert {p.jurisdiction for p in laws} == {"Alaska", "Oregon", "Washington"}
    local = [p for p in rf.policies if p.definition == "no-287g"]
    assert len(local) == 1 and local[0].by_county
    key = local[0].n_events_key[:-2]
    assert sum(rf.facts[f"{key}:{a}"].value for a in ("yes", "no", "unknown")) == len(
        parse_place("SEA", shared_ref).county_fips)


def test_policy_context_under_several_definitions(facts):
    pol = {(p.jurisdiction, p.definition): p for p in facts["la"].policies}
    # California on 2017-09-24: SB 54 (2018) not yet in force, AB 4 (2014) in force
    assert pol[("California", "state-law")].answer == "no" and pol[("California", "state-law")].is_default
    assert pol[("California", "state-law-any")].answer == "yes"
    assert any("AB 4" in (e.citation or "") for e in pol[("California", "state-law-any")].events)


# ------------------------------------------------------------------ every number in the text is a cited fact

_NUM = {"en": r"\d{1,3}(?:,\d{3})*(?:\.\d+)?%?", "es": r"\d{1,3}(?:,\d{3})*(?:\.\d+)?(?:\u00a0%)?"}
_MONTHS = {
    "en": "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(),
    "es": "ene feb mar abr may jun jul ago sep oct nov dic".split(),
}
_DATE = {"en": r"(%s) (\d{1,2}), (\d{4})" % "|".join(_MONTHS["en"]),
         "es": r"(\d{1,2}) (%s) (\d{4})" % "|".join(_MONTHS["es"])}
NAMES_WITH_DIGITS = re.compile(r"287\(g\)|287g")  # program names, not figures


def parse_value(text: str, lang: str):
    """A printed figure back to a value, written independently of the formatter."""
    m = re.fullmatch(_DATE[lang], text)
    if m:
        g = m.groups()
        month, day, year = (g[0], g[1], g[2]) if lang == "en" else (g[1], g[0], g[2])
        return dt.date(int(year), _MONTHS[lang].index(month) + 1, int(day))
    assert re.fullmatch(_NUM[lang], text), f"not a {lang} number: {text!r}"
    group, dec = ",", "."  # both languages (Spanish as in Mexico and the U.S.)
    pct = text.endswith("%")
    num = float(text.rstrip("%").rstrip("\u00a0").replace(group, "").replace(dec, "."))
    return ("pct", num) if pct else num


def check_value(fact, printed, lang: str) -> None:
    got = parse_value(printed, lang)
    assert isinstance(got, dt.date) == (fact.kind == "date"), (fact.key, printed)
    if fact.kind == "date":
        assert got == dt.date.fromisoformat(str(fact.value)), (fact.key, printed)
    elif fact.kind == "percent":
        assert isinstance(got, tuple), (fact.key, printed)
        assert abs(got[1] - fact.value * 100) <= 0.05 + 1e-9, (fact.key, printed, fact.value)
    elif fact.kind == "count":
        assert got == fact.value, (fact.key, printed)
    else:
        assert abs(got - fact.value) <= 0.5 * 10 ** -fact.decimals + 1e-9, (fact.key, printed, fact.value)


class _Html(HTMLParser):
    """Collects fact spans and the article's text without facts, footnote markers, code or figures."""

    def __init__(self):
        super().__init__()
        self.stack: list[tuple[str, str]] = []
        self.facts: list[tuple[str, str]] = []
        self.rest: list[str] = []
        self.in_article = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "article":
            self.in_article = True
        if tag in ("br", "img", "meta"):
            return
        self.stack.append((tag, a.get("class") or ""))
        if tag == "span" and a.get("class") == "fact":
            self.facts.append((a["data-fact"], ""))

    def handle_endtag(self, tag):
        if tag == "article":
            self.in_article = False
        if self.stack and self.stack[-1][0] == tag:
            self.stack.pop()

    def handle_data(self, data):
        classes = {c for _, c in self.stack}
        tags = {t for t, _ in self.stack}
        if "fact" in classes:
            key, text = self.facts[-1]
            self.facts[-1] = (key, text + data)
        elif self.in_article and not ({"fn", "src"} & classes) and not ({"code", "title", "style"} & tags):
            self.rest.append(data)


@pytest.mark.parametrize("case", ["la", "socal", "sea", "lac"])
@pytest.mark.parametrize("lang", ["en", "es"])
def test_every_number_in_html_is_its_fact(facts, case, lang):
    rf = facts[case]
    out = render(rf, lang, "html", with_charts=False)
    p = _Html()
    p.feed(out.text)
    assert p.facts, "no figures found"
    for key, printed in p.facts:
        check_value(rf.facts[key], printed, lang)
    rest = NAMES_WITH_DIGITS.sub("", " ".join(p.rest))
    assert not re.search(r"\d", rest), f"uncited digits: {re.findall(r'.{30}[0-9].{30}', rest)[:3]}"
    # every footnote number in the text has its footnote
    assert {int(n) for n in re.findall(r'href="#fn(\d+)"', out.text)} == {n.number for n in out.footnotes}


@pytest.mark.parametrize("case", ["la", "socal", "sea", "lac"])
@pytest.mark.parametrize("lang", ["en", "es"])
def test_every_number_in_markdown_is_its_fact(facts, case, lang):
    rf = facts[case]
    out = render(rf, lang, "md", with_charts=False)
    body, _, notes = out.text.partition("\n[^1]:")
    body = re.sub(r"(`+).*?\1", "", body)  # source text (landmarks, citations, release ids)
    token = re.compile(r"(%s|%s)\[\^(\d+)\]" % (_DATE[lang].replace("(", "(?:").replace("(?:?:", "(?:"),
                                                  _NUM[lang]))
    found = [(m.group(1), int(m.group(2))) for m in token.finditer(body)]
    assert len(found) == len(out.usage) > 0
    by_note = {n.number: n for n in out.footnotes}
    # each printed figure equals a fact of the footnote it cites ...
    for printed, n in found:
        candidates = [rf.facts[k] for k in by_note[n].facts]
        errors = 0
        for fact in candidates:
            try:
                check_value(fact, printed, lang)
                break
            except AssertionError:
                errors += 1
        assert errors < len(candidates), (printed, n, [c.key for c in candidates])
    # ... and the printed figures are exactly the facts used, as a multiset
    printed_sorted = sorted(str(parse_value(p, lang)) for p, _ in found)
    used = []
    for key in out.usage:
        f = rf.facts[key]
        used.append(str(parse_value(_printed(f, lang), lang)))
    assert printed_sorted == sorted(used)
    rest = NAMES_WITH_DIGITS.sub("", token.sub("", body))
    assert not re.search(r"\d", rest), f"uncited digits: {re.findall(r'.{30}[0-9].{30}', rest)[:3]}"
    assert notes.count("\n[^") + 1 == len(out.footnotes)


def _printed(fact, lang):
    from icemonitor.present.report import format_fact

    return format_fact(fact, lang)


def test_spanish_text_and_conventions(facts):
    rf = facts["la"]
    es = render(rf, "es", "md", with_charts=False).text
    en = render(rf, "en", "md", with_charts=False).text
    total = rf.facts["national_total"].value
    assert total >= 1000
    assert f"{total // 1000},{total % 1000:03d}[^" in es and f"{total // 1000},{total % 1000:03d}[^" in en
    assert "24 sep 2017[^" in es and "Sep 24, 2017[^" in en
    assert "arrestos en la comunidad (at-large)" in es and "detenciones bajo custodia" in es
    assert "Redadas detectadas" in es and "Detected sweeps" in en
    assert "\u00a0%[^" in es and "%[^" in en
    sea = render(facts["sea"], "es", "md", with_charts=False).text
    assert "sin condenas penales registradas" in sea
    assert "no registra antecedentes penales" in es


# ------------------------------------------------------------------ escaping of source text

EVIL = '<script>alert("x")</script> & **bold** [link](http://example.org) `tick`'


def _evil(rf: ReportFacts) -> ReportFacts:
    bad = rf.model_copy(deep=True)
    bad.counties[0].name = EVIL
    bad.sweeps[0].top_part = EVIL
    for p in bad.policies:
        for e in p.events:
            e.citation = EVIL
    bad.place_label = EVIL
    return bad


def test_landmark_text_is_escaped_in_html(facts):
    bad = _evil(facts["la"])
    html = render(bad, "en", "html", with_charts=False).text
    assert "<script>" not in html and EVIL not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; **bold**" in html
    assert 'href="http://example.org"' not in html


def test_landmark_text_is_inert_in_markdown(facts):
    bad = _evil(facts["la"])
    md = render(bad, "en", "md", with_charts=False).text
    # in running text (the place label) markup characters are backslash-escaped ...
    assert "\\<script\\>" in md and "\\[link\\](http://example.org)" in md and "\\*\\*bold\\*\\*" in md
    # ... and landmark text is a code span whose fence is longer than any backtick run inside it
    assert "`` <script>alert(\"x\")</script> & **bold** [link](http://example.org) `tick` ``" in md
    assert re.search(r"(?<![\\`])<script>", re.sub(r"``.*?``", "", md)) is None


# ------------------------------------------------------------------ files, charts, PDF, CLI

def test_md_writes_svg_charts(facts, tmp_path):
    out = tmp_path / "la.md"
    written = write_report(facts["la"], "es", "md", out)
    svgs = [p for p in written if p.suffix == ".svg"]
    assert {p.name for p in svgs} == {"la-daily.svg", "la-counties.svg"}
    text = out.read_text()
    for p in svgs:
        assert f"]({p.name})" in text
        svg = p.read_text()
        assert svg.startswith("<svg") and "Arrestos" in svg  # Spanish axis titles


def test_html_embeds_svg(facts, tmp_path):
    out = tmp_path / "la.html"
    write_report(facts["la"], "en", "html", out)
    html = out.read_text()
    assert html.count('src="data:image/svg+xml;base64,') == 2
    assert '<html lang="en">' in html


def _weasyprint_ok() -> str | None:
    try:
        import weasyprint  # noqa: F401
    except (ImportError, OSError) as exc:
        return f"WeasyPrint or its system libraries (Pango, HarfBuzz) are missing: {exc}"
    return None


def test_pdf_renders_and_shows_the_figures(facts, tmp_path):
    reason = _weasyprint_ok()
    if reason:
        pytest.skip(reason)
    rf = facts["la"]
    out = tmp_path / "la-es.pdf"
    write_report(rf, "es", "pdf", out)
    data = out.read_bytes()
    assert data.startswith(b"%PDF") and len(data) > 20_000
    if not shutil.which("pdftoppm") or not shutil.which("pdftotext"):
        pytest.skip("poppler-utils (pdftoppm, pdftotext) not installed")
    subprocess.run(["pdftoppm", "-r", "50", "-png", "-f", "1", "-l", "1", str(out), str(tmp_path / "page")],
                   check=True)
    pages = sorted(tmp_path.glob("page*.png"))
    assert pages and pages[0].stat().st_size > 5_000
    text = subprocess.run(["pdftotext", "-layout", str(out), "-"], check=True, capture_output=True,
                          text=True).stdout
    total = rf.facts["total"].value
    assert f"recogen {total}" in text.replace("\n", " ")
    assert "24 sep 2017" in text


def test_cli_report(warehouse_path, tmp_path):
    from typer.testing import CliRunner

    from icemonitor.cli import app

    out = tmp_path / "sea.html"
    facts_json = tmp_path / "facts.json"
    res = CliRunner().invoke(app, ["report", "--place", "SEA", "--from", SEA[1], "--to", SEA[2], "--lang", "es",
                                   "--format", "html", "--output", str(out), "--facts", str(facts_json),
                                   "--warehouse", str(warehouse_path), "--data-root", str(SHARED_DATA)])
    assert res.exit_code == 0, res.output
    assert "Antecedentes penales" in out.read_text()
    loaded = ReportFacts.model_validate_json(facts_json.read_text())
    assert loaded.facts["total"].query.startswith("summary(")
    bad = CliRunner().invoke(app, ["report", "--place", "Narnia", "--from", SEA[1], "--to", SEA[2],
                                   "--output", str(out), "--warehouse", str(warehouse_path),
                                   "--data-root", str(SHARED_DATA)])
    assert bad.exit_code == 2 and "unknown place" in bad.output
