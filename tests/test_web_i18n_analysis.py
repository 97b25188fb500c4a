"""Spanish pages show the analysis library's English display text in Spanish (web/i18n/analysis_es.yaml).

The static strings are collected from the analysis modules themselves (their constants, and the string literals
they put in caveats, definitions, reasons and notes), so a new English string without a Spanish entry fails here.
The pages are rendered against the warehouse `icemonitor build` makes from ../shared/data (conftest).
"""

from __future__ import annotations

import ast
import html
import importlib
import inspect
import json
import re

import pytest
from fastapi.testclient import TestClient

from icemonitor.web import i18n
from icemonitor.web.app import create_app

SHARED = __import__("conftest").SHARED_DATA

MODULES = ("common", "sweeps", "targeting", "claims", "summary", "priorities", "rate_models", "validation")


# ---------------------------------------------------------------- collecting the English display strings

def _literal(node: ast.AST, module) -> str | None:
    """The string a node always evaluates to (constants, + of constants, module-level str names), else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _literal(node.left, module), _literal(node.right, module)
        return left + right if left is not None and right is not None else None
    if isinstance(node, ast.Name) and isinstance(getattr(module, node.id, None), str):
        return getattr(module, node.id)
    return None


def _values(node: ast.AST, module) -> list[str]:
    """Literal strings of a list/dict value (dict: its values) or of a single expression."""
    if isinstance(node, ast.BinOp) and ast.List in (type(node.left), type(node.right)):  # caveats + ["..."]
        return _values(node.left, module) + _values(node.right, module)
    if isinstance(node, (ast.List, ast.Tuple)):
        items = node.elts
    elif isinstance(node, ast.Dict):
        items = node.values
    else:
        items = [node]
    return [s for s in (_literal(i, module) for i in items) if s is not None]


DISPLAY_NAMES = {"caveats", "definitions", "reason", "note"}


def literal_display_strings(module) -> set[str]:
    """String literals a module puts into display fields: caveats (list, append), definitions (dict, update),
    reason=/note= keywords, row["note"] = ..., explain()'s returns, _empty(..., note) and _NotCheckable(...)."""
    tree = ast.parse(inspect.getsource(module))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                name = target.id if isinstance(target, ast.Name) else (
                    target.slice.value if isinstance(target, ast.Subscript) and isinstance(target.slice, ast.Constant)
                    else None)
                if name in DISPLAY_NAMES:
                    out.update(_values(node.value, module))
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in DISPLAY_NAMES \
                    and func.attr in ("append", "update") and node.args:
                out.update(_values(node.args[0], module))
            if isinstance(func, ast.Name) and func.id in ("_empty", "_NotCheckable") and node.args:
                out.update(_values(node.args[-1], module))
            for kw in node.keywords:
                if kw.arg in DISPLAY_NAMES:
                    out.update(_values(kw.value, module))
        elif isinstance(node, ast.FunctionDef) and node.name == "explain":
            for ret in ast.walk(node):
                if isinstance(ret, ast.Return) and ret.value is not None:
                    out.update(_values(ret.value, module))
    return {s for s in out if re.search(r"[A-Za-z]{3}", s)}


def static_display_strings() -> dict[str, set[str]]:
    """Every static English string the analysis modules define for display, by where it comes from."""
    from icemonitor.analysis import claims, common, rate_models, summary, sweeps, targeting
    from icemonitor.analysis.validation import announced_operations, known_events
    from icemonitor.places.sanctuary import definitions

    found = {
        "sweeps.SWEEP_DEFINITIONS": set(sweeps.SWEEP_DEFINITIONS.values()),
        "common.MEASURES": {text for _, text in common.MEASURES.values()},
        "targeting.DEFINITIONS": set(targeting.DEFINITIONS.values()),
        "targeting.PLAIN_WORDS": set(targeting.PLAIN_WORDS),
        "targeting.NO_RESOLUTION": {targeting.NO_RESOLUTION},
        "claims.COMPARISONS": set(claims.COMPARISONS.values()),
        "summary.GROUPS": {text for _, text in summary.GROUPS.values()},
        "rate_models.NOT_IDENTIFIED": {rate_models.NOT_IDENTIFIED},
        "rate_models.NO_VARIATION": {rate_models.NO_VARIATION},
        "sanctuary definitions": {d.description for d in definitions().values()}
        | {c for d in definitions().values() for c in d.caveats},
        "validation operation and event names": {o.name for o in announced_operations()}
        | {e.name for e in known_events()},
    }
    for name in MODULES:
        module = importlib.import_module(f"icemonitor.analysis.{name}")
        found[f"{name} literals"] = literal_display_strings(module)
    return found


def test_the_collector_finds_the_display_strings():
    found = static_display_strings()
    from icemonitor.analysis import claims, sweeps, targeting

    literals = found["sweeps literals"] | found["claims literals"] | found["targeting literals"]
    # caveats written inline in the functions, not as constants
    assert any(s.startswith("A sweep is a statistical surge") for s in literals)
    assert any(s.startswith("A consistent verdict means") for s in literals)
    assert any(s.startswith("County level uses only arrests") for s in literals)
    assert "no records match the base definition" in literals
    assert any(s.startswith(targeting.NO_RESOLUTION + ": county figures") for s in literals)
    assert "federal holiday within or just before the run" in found["validation literals"]
    assert len(found["sweeps.SWEEP_DEFINITIONS"]) == len(sweeps.SWEEP_DEFINITIONS) >= 7
    assert len(found["claims.COMPARISONS"]) == len(claims.COMPARISONS) == 5
    assert sum(len(v) for v in found.values()) > 100


def test_every_static_display_string_has_a_spanish_entry():
    texts, _ = i18n.analysis_catalog("es")
    missing = {src: sorted(s for s in strings if s not in texts) for src, strings in static_display_strings().items()}
    missing = {k: v for k, v in missing.items() if v}
    assert not missing, json.dumps(missing, indent=1, ensure_ascii=False)
    for en, es in texts.items():
        assert es.strip(), en
        # field names and figures inside a text stay as they are (a bare class name is a label and is translated)
        for code in [] if " " not in en else re.findall(r"\b[a-z]+_[a-z_]+\b|\d+(?:\.\d+)?", en):
            assert code in es, (code, en, es)


def test_patterns_translate_real_shapes():
    seg = i18n.analysis_segments
    assert i18n.analysis_text("es", "definition state-law: Unverified rows never produce yes; when one would apply the "
                              "answer is unknown.") == ("definición state-law: Las filas no verificadas nunca dan 'yes'; "
                                                        "cuando una de ellas se aplicaría, la respuesta es 'unknown' "
                                                        "(desconocida).")
    assert i18n.analysis_text("es", "Months left out because the data cover fewer than 20 of their days: 2019-09 (1 days "
                              "with data), 2015-10 (3 days with data).") == (
        "Meses excluidos porque los datos cubren menos de 20 de sus días: 2019-09 (1 días con datos), "
        "2015-10 (3 días con datos).")
    reason = "holds: the records give more than the claimed value, less the tolerance (relative tolerance 0.1 (16.7))"
    assert i18n.analysis_text("es", reason) == ("se cumple: los registros dan más que el valor afirmado, menos la "
                                                "tolerancia (tolerancia relativa 0.1 (16.7))")
    fails = ("fails: the records give the claimed value within the tolerance either way (absolute tolerance 0.05 (0.05))"
             "; the same verdict holds for the whole range 2450..3794 (1344 matching arrests in the AOR(s) not resolved "
             "to a county)")
    assert i18n.analysis_text("es", fails).startswith("no se cumple: los registros dan el valor afirmado dentro de la "
                                                      "tolerancia, en uno u otro sentido (tolerancia absoluta 0.05 (0.05))"
                                                      "; el mismo veredicto vale para todo el rango de 2450 a 3794 (1344 ")
    # the caveat summary and priorities give for a county place (analysis.common.unresolved_in_place)
    undecided = ("67 events of the same filters in LOS are not resolved to a county (landmark blank, an office code, or "
                 "ambiguous): they may or may not lie in Los Angeles County, CA and are not counted here.")
    assert i18n.analysis_text("es", undecided) == (
        "67 eventos con los mismos filtros en LOS no están asignados a un condado (lugar de aprehensión en blanco, un "
        "código de oficina o ambiguo): pueden estar o no en condado de Los Angeles, CA y no se cuentan aquí.")
    # a name with no translation stays English and is marked so; the frame around it is Spanish
    assert seg("es", "announced operation: Operation Example (a name not in the file)") == [
        ("operativo anunciado: ", None), ("Operation Example (a name not in the file)", "en")]
    assert i18n.analysis_text("es", "announced operation: Cross Check February 2017 (national)") == \
        "operativo anunciado: Cross Check, febrero de 2017 (nacional)"
    assert i18n.analysis_text("es", "state CA 2018-03-13..2018-03-14 (score 5.41)") == \
        "estado CA 2018-03-13 a 2018-03-14 (puntuación 5.41)"
    assert i18n.analysis_text("es", "NB2 GLM, log link, offset log(exposure), place + period fixed effects, "
                              "cluster-robust SE by place").startswith("GLM binomial negativo (NB2)")
    assert i18n.analysis_text("es", "convicted (most_serious_conviction)") == "con condena (most_serious_conviction)"
    # English and unknown text pass through unchanged
    assert i18n.analysis_text("en", reason) == reason
    assert seg("es", "something the catalog does not know") == [("something the catalog does not know", "en")]


def test_markup_escapes_source_text():
    evil = "<script>alert(1)</script>"
    assert str(i18n.analysis_markup("es", evil)) == '<span lang="en">&lt;script&gt;alert(1)&lt;/script&gt;</span>'
    assert str(i18n.analysis_markup("en", evil)) == "&lt;script&gt;alert(1)&lt;/script&gt;"
    op = str(i18n.analysis_markup("es", f"known event: {evil}"))
    assert op == 'evento conocido: <span lang="en">&lt;script&gt;alert(1)&lt;/script&gt;</span>'
    assert str(i18n.analysis_markup("es", 'count of arrests rows where aor = "<b>"')) == \
        "conteo de filas de arrests donde aor = &#34;&lt;b&gt;&#34;"


# ---------------------------------------------------------------- pages against the built warehouse

@pytest.fixture(scope="module")
def client(request):
    if not (SHARED / "ice").is_dir():
        pytest.skip("../shared/data not present")
    try:
        path = request.getfixturevalue("warehouse_path")
    except Exception as exc:
        pytest.skip(f"the product warehouse could not be built here: {exc}")
    return TestClient(create_app(path, ref=lambda p: SHARED / p))


def _english_gone_spanish_shown(page: str, english: list[str]) -> None:
    """Each English analysis text is absent from the Spanish page's text and its full translation is present.
    (Chart data in <script type="application/json"> keeps the analysis rows as they are; only tooltips show.)"""
    text = html.unescape(re.sub(r"<script\b.*?</script>", "", page, flags=re.DOTALL))
    assert english
    for en in english:
        es = i18n.analysis_text("es", en)
        assert es != en, f"no Spanish for {en!r}"
        assert all(lang is None for _, lang in i18n.analysis_segments("es", en)), en
        assert es in text, es
        if len(en) > 25:  # short ones (e.g. 'sanctuary') also occur inside other words
            assert en not in text, en


def test_sweeps_page_in_spanish(client):
    from icemonitor.analysis.sweeps import SWEEP_DEFINITIONS

    params = {"from": "2016-10-01", "to": "2017-09-30", "limit": "10"}
    api = client.get("/api/v1/sweeps", params=params).json()
    assert api["definitions"]["sweep"] == SWEEP_DEFINITIONS["sweep"]  # the JSON API stays English
    es = client.get("/sweeps", params={**params, "lang": "es"})
    assert es.status_code == 200 and '<html lang="es">' in es.text
    _english_gone_spanish_shown(es.text, list(api["definitions"].values()) + api["caveats"])
    assert "Una racha de 2 a 10 días consecutivos" in html.unescape(es.text)
    en = html.unescape(client.get("/sweeps", params={**params, "lang": "en"}).text)
    assert SWEEP_DEFINITIONS["sweep"] in en and api["caveats"][0] in en and "Una racha" not in en
    # what explains each sweep (announced operation, known event, holiday, data artefact)
    known = [f["known_as"] for f in api["figures"] if f.get("known_as")]
    assert any(k.startswith("announced operation: ") for k in known)
    _english_gone_spanish_shown(es.text, known)
    assert '<span lang="en">' not in es.text


def test_sweep_detail_page_in_spanish(client):
    params = {"from": "2016-10-01", "to": "2017-09-30", "limit": "10", "lang": "es"}
    listing = client.get("/sweeps", params=params).text
    link = html.unescape(re.search(r'href="(/sweep/[^"]+)"', listing).group(1))
    page = client.get(link + "&lang=es")
    assert page.status_code == 200
    api = client.get("/api/v1/sweeps", params={k: v for k, v in params.items() if k != "lang"}).json()
    _english_gone_spanish_shown(page.text, list(api["definitions"].values()) + api["caveats"])
    for alias in re.findall(r"<li>(.*?)</li>", page.text):
        assert "(score " not in alias


def test_targeting_page_in_spanish(client):
    from icemonitor.analysis.targeting import DEFINITIONS, PLAIN_WORDS

    api = client.get("/api/v1/targeting").json()
    assert api["extra"]["plain_words"] == PLAIN_WORDS and api["definitions"]["arrests"] == DEFINITIONS["arrests"]
    page = client.get("/targeting", params={"lang": "es"})
    assert page.status_code == 200
    english = list(api["definitions"].values()) + api["caveats"] + api["extra"]["plain_words"]
    english += [m["note"] for m in api["extra"]["models"] + api["extra"]["did"] if m.get("note")]
    english += [m["method"] for m in api["extra"]["models"]]
    _english_gone_spanish_shown(page.text, english)
    text = html.unescape(page.text)
    assert "Los arrestos son resultados, no intenciones" in text
    assert "Ese día estaba vigente en el estado del lugar una ley estatal" in text  # state-law, the default
    # figures inside the caveats survive translation unchanged
    left_out = next(c for c in api["caveats"] if c.startswith("Arrests without a place"))
    numbers = re.findall(r"\d[\d,]*", left_out)
    es_left_out = i18n.analysis_text("es", left_out)
    assert es_left_out in text and re.findall(r"\d[\d,]*", es_left_out) == numbers
    # group names in the rates table
    groups = [g["group"] for g in api["figures"]]
    assert "sanctuary" in groups and "<td>santuario</td>" in page.text and "<td>sanctuary</td>" not in page.text
    assert '<span lang="en">' not in page.text  # everything on this page has a translation
    en_text = html.unescape(client.get("/targeting", params={"lang": "en"}).text)
    assert PLAIN_WORDS[0] in en_text
    if any(d["event"] == "all changes (pooled)" for d in api["extra"]["did"]):  # DiD labels
        shown = re.sub(r"<script\b.*?</script>", "", text, flags=re.DOTALL)  # chart data keeps the analysis rows
        assert re.search(r"todos los cambios \(agrupados\)\s+· Todos los arrestos", shown)
        assert "all changes (pooled)" not in shown and re.search(r"all changes \(pooled\)\s+· arrests", en_text)


def test_targeting_other_definition_in_spanish(client):
    api = client.get("/api/v1/targeting", params={"definition": "no-287g", "period": "fy"}).json()
    page = client.get("/targeting", params={"definition": "no-287g", "period": "fy", "lang": "es"})
    assert page.status_code == 200
    english = list(api["definitions"].values()) + api["caveats"]
    english += [m["note"] for m in api["extra"]["models"] + api["extra"]["did"] if m.get("note")]
    _english_gone_spanish_shown(page.text, english)


CLAIMS = {"source": "test", "claims": [
    {"id": "la-fy2017", "text": "More than 8,000 ICE arrests in the Los Angeles AOR in FY2017", "metric": "count",
     "table": "arrests", "period": {"from": "2016-10-01", "to": "2017-09-30"}, "place": "LOS",
     "comparison": "more_than", "value": 8000},
    {"id": "la-county", "metric": "count", "table": "arrests", "period": {"from": "2016-10-01", "to": "2017-09-30"},
     "place": "06037", "comparison": "about", "value": 3000},
    {"id": "sea-convicted", "metric": "share", "table": "arrests", "period": {"from": "2016-10-01", "to": "2017-09-30"},
     "place": "SEA", "share_of": {"criminality": ["convicted"]}, "comparison": "at_least", "value": 0.99},
    {"id": "<script>alert(1)</script>", "text": "<script>alert(2)</script>", "metric": "count", "table": "arrests",
     "period": {"from": "2016-10-01", "to": "2017-09-30"}, "place": "US", "filters": {"operation": "Cross"},
     "comparison": "at_least", "value": 5},
]}


def test_check_page_in_spanish_and_escaped(client):
    from icemonitor.analysis.claims import COMPARISONS

    api = client.post("/api/v1/check", json=CLAIMS)
    assert api.status_code == 200, api.text
    res = api.json()
    reasons = [f["reason"] for f in res["figures"]]
    assert reasons[0].startswith("holds: " + COMPARISONS["more_than"])  # the API stays English
    page = client.post("/check", params={"lang": "es"}, data={"claims": json.dumps(CLAIMS)})
    assert page.status_code == 200
    english = reasons + list(res["definitions"].values()) + res["caveats"]
    english += [f["definition"] for f in res["figures"] if f["definition"]]
    _english_gone_spanish_shown(page.text, english)
    text = html.unescape(page.text)
    assert "se cumple: los registros dan más que el valor afirmado" in text
    assert "Estados Unidos (todos los AOR)" in text and "United States (all AORs)" not in text
    assert "condado de Los Angeles, CA" in text and '<span lang="en">' not in page.text
    for en in COMPARISONS.values():
        assert en not in text
    # source text stays escaped
    assert "<script>alert(" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text and "&lt;script&gt;alert(2)&lt;/script&gt;" in page.text
    en_page = client.post("/check", params={"lang": "en"}, data={"claims": json.dumps(CLAIMS)})
    assert reasons[0] in html.unescape(en_page.text) and "<script>alert(" not in en_page.text


def test_place_and_overview_sweep_text_in_spanish(client):
    from icemonitor.analysis.sweeps import SWEEP_DEFINITIONS

    place = client.get("/place/LOS", params={"lang": "es"})
    assert place.status_code == 200
    text = html.unescape(place.text)
    if "Una racha de 2 a 10" in text or SWEEP_DEFINITIONS["sweep"] in text:  # the place has sweeps
        assert SWEEP_DEFINITIONS["sweep"] not in text and i18n.analysis_text("es", SWEEP_DEFINITIONS["sweep"]) in text
    overview = html.unescape(client.get("/", params={"lang": "es"}).text)
    assert SWEEP_DEFINITIONS["sweep"] not in overview
