"""web/table_cells: a figure's table cells written in Python equal the Jinja loop they replace, character for
character (the loop kept here as the independent rendering), in both languages."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from icemonitor.web.app import templates
from icemonitor.web.i18n import number, translate

# the templates' figure table loop before web/table_cells (session 8), verbatim
JINJA_ROWS = """{% for row in fig.rows %}<tr>{% for key, label in fig.columns %}{% set value = row[key] %}<td>
      {#- cell -#}
      {%- if key == 'method_class' -%}{{ t('class.' ~ (value or 'unclassified')) }}
      {%- elif key == 'criminality' -%}{{ t('crim.' ~ (value or 'unknown')) }}
      {%- elif value is number and key not in ('fy', 'year') -%}{{ number(value, 2 if value is float else 0) }}
      {%- elif value is none -%}–
      {%- elif key == 'month' -%}{{ value | month }}
      {%- elif key in ('day', 'date') -%}{{ value | day }}
      {%- else -%}{{ value }}{%- endif -%}
      </td>{% endfor %}</tr>
      {% endfor %}"""

COLUMNS = [(k, k.upper()) for k in ("month", "method_class", "criminality", "n", "rate", "fy", "year", "day", "date",
                                     "name", "aor", "missing")]
ROWS = [
    {"month": "2017-09", "method_class": "at_large", "criminality": "convicted", "n": 1234567, "rate": 12.345,
     "fy": 2018, "year": 2017, "day": "2017-09-24", "date": dt.date(2018, 2, 1), "name": "Los Angeles <&> 'x'",
     "aor": "LOS"},
    {"month": None, "method_class": None, "criminality": None, "n": None, "rate": float("nan"), "fy": None,
     "year": None, "day": None, "date": None, "name": None, "aor": None},
    {"month": "not a month", "method_class": "custodial", "criminality": "no_record", "n": 0, "rate": 0.0,
     "fy": "2019", "year": 2016.0, "day": "n/a", "date": "2017-13-40", "name": 5, "aor": True},
    {"month": dt.date(2016, 1, 1), "method_class": "other", "criminality": "pending_charges", "n": np.int64(7),
     "rate": np.float64(1e6 / 3), "fy": np.int32(2016), "year": -1, "day": dt.datetime(2017, 1, 2, 3, 4),
     "date": "2017-10-01", "name": "Condado de Doña Ana", "aor": "SEA"},
]


@pytest.mark.parametrize("lang", ["en", "es"])
def test_figure_rows_equal_the_jinja_loop(lang):
    env = templates()
    old = env.from_string(JINJA_ROWS).render(
        fig={"rows": ROWS, "columns": COLUMNS}, lang=lang, t=lambda k, **kw: translate(lang, k, **kw),
        number=lambda v, d=0: number(lang, v, d))
    new = env.from_string("{{ figure_rows(fig.rows, fig.columns, lang) }}").render(
        fig={"rows": ROWS, "columns": COLUMNS}, lang=lang)
    assert new == old
    assert "Los Angeles &lt;&amp;&gt; &#39;x&#39;" in new  # source text escaped
    cells = env.from_string("{% from '_macros.html' import cell with context %}"
                            "{% for r in rows %}{% for k, _ in cols %}[{{ cell(t, k, r[k], number) }}]"
                            "{% endfor %}{% endfor %}").render(rows=ROWS, cols=COLUMNS, lang=lang, t=None, number=None)
    assert cells == "".join(f"[{c}]" for c in __import__("re").findall(r"<td>(.*?)</td>", new))


def test_no_rows_no_text():
    assert templates().globals["figure_rows"]([], COLUMNS, "en") == ""


def test_tojson_is_jinjas_html_safe_json():
    """The pages' `tojson` (orjson) gives the value Jinja's own filter gives, with nothing that can end a <script>
    element or an attribute (<, >, &, ')."""
    import json

    from jinja2.utils import htmlsafe_json_dumps

    from icemonitor.web.app import tojson

    spec = {"title": {"text": "</script><script>alert('x & y')</script>"}, "b": [1, 2.5, None, True],
            "a": {"z": "Doña Ana – 1,2", "n": np.int64(3), "f": np.float64(0.1)}, "rows": [{"rate": 12.25}] * 3}
    out = tojson(spec)
    assert not any(c in out for c in "<>&'")
    want = json.loads(htmlsafe_json_dumps({**spec, "a": {**spec["a"], "n": 3, "f": 0.1}}, sort_keys=True))
    assert json.loads(out) == want
    assert list(json.loads(out)) == sorted(spec)  # keys sorted, as Jinja's default
    html = templates().from_string('<script type="application/json">{{ spec | tojson }}</script>').render(spec=spec)
    assert html == f'<script type="application/json">{out}</script>'
