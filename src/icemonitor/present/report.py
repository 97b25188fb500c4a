"""Render report facts as an article (Markdown, HTML or PDF) in English or Spanish, every figure footnoted."""

from __future__ import annotations

import base64
import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup, escape

from icemonitor.errors import InputError
from icemonitor.messages import render as in_language
from icemonitor.present.facts import Fact, ReportFacts
from icemonitor.present.i18n import format_count, format_date, format_number, format_percent, messages

FORMATS = ("md", "html", "pdf")
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~&])")


def format_fact(fact: Fact, lang: str) -> str:
    """The fact's value as printed in `lang`."""
    if fact.kind == "count":
        return format_count(fact.value, lang)
    if fact.kind == "percent":
        return format_percent(fact.value, lang, fact.decimals)
    if fact.kind == "date":
        value = fact.value if isinstance(fact.value, dt.date) else dt.date.fromisoformat(str(fact.value))
        return format_date(value, lang)
    return format_number(fact.value, lang, fact.decimals)


def md_escape(text: str) -> str:
    """Plain text made inert in Markdown (no emphasis, links or HTML)."""
    return _MD_SPECIAL.sub(r"\\\1", str(text))


def md_code(text: str) -> str:
    """Source text (landmarks, citations) as a Markdown code span, whatever backticks it contains."""
    text = str(text).replace("\n", " ")
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"


@dataclass
class Footnote:
    number: int
    note: str
    args: dict[str, str]
    releases: list[str]
    queries: list[str]
    facts: list[str] = field(default_factory=list)


class Renderer:
    """Formats facts and catalog text for one language and output format, numbering footnotes as they appear."""

    def __init__(self, rf: ReportFacts, lang: str, fmt: str):
        if fmt not in ("md", "html"):
            raise InputError("unknown format; choose html, pdf or md", field="format", value=fmt)
        self.rf, self.lang, self.fmt = rf, lang, fmt
        self.msgs = messages(lang)
        self.footnotes: list[Footnote] = []
        self._by_id: dict[tuple, Footnote] = {}
        self.usage: list[str] = []  # fact keys in the order they are printed

    # -- fragments
    def _wrap(self, text: str) -> Any:
        return Markup(text) if self.fmt == "html" else text

    def txt(self, text: Any) -> Any:
        """Our own plain text (labels, names): escaped for the output format."""
        return escape(str(text)) if self.fmt == "html" else md_escape(str(text))

    def src(self, text: Any) -> Any:
        """Text copied from a release or reference file (landmarks, citations): escaped and set apart as code."""
        if self.fmt == "html":
            return Markup('<code class="src">{}</code>').format(str(text))
        return md_code(str(text))

    def note_args(self, fact: Fact) -> dict[str, str]:
        args = {k: in_language(v, self.lang) for k, v in fact.note_args.items()}
        if fact.note == "note_policy":
            args["text"] = self.definition_text(args.get("definition", ""), args.get("text", ""))
        return args

    def place(self) -> Any:
        """The place's name in the report's language ("Los Angeles AOR (LOS)" / "AOR de Los Angeles (LOS)")."""
        m = re.fullmatch(r"(.+) AOR \((\w+)\)", self.rf.place_label)
        if self.rf.place_level == "aor" and m:
            return self.txt(self.msgs["place_aor"].format(name=m.group(1), code=m.group(2)))
        if self.lang == "es":
            from icemonitor.places.place_names import spanish_label

            return self.txt(spanish_label(self.rf.place_label, self.rf.place_level, self.rf.place_code))
        return self.txt(self.rf.place_label)

    def label(self, label: str, level: str, code: str = "") -> Any:
        """A state's, county's or region's label in the report's language ('Luisiana', 'condado de Los Ángeles, CA');
        other labels (AOR codes) as they are. Level 'place': the report's own place."""
        if level == "place":
            level, code = self.rf.place_level, self.rf.place_code
        if self.lang == "es" and level in ("state", "county", "group"):
            from icemonitor.places.place_names import spanish_label

            return self.txt(spanish_label(label, level, code))
        return self.txt(label)

    def county(self, label: str) -> Any:
        """A county's label in the report's language ('condado de Los Angeles, CA' in Spanish)."""
        if self.lang == "es":
            from icemonitor.places.place_names import spanish_label

            return self.txt(spanish_label(label, "county"))
        return self.txt(label)

    def definition_text(self, name: str, text: Any) -> str:
        """A sanctuary definition as the report words it (def_<name>), else the definition's own text in the
        report's language (icemonitor.messages)."""
        return self.msgs.get(f"def_{name}") or in_language(text, self.lang)

    def fact(self, key: str) -> Any:
        """A figure, formatted, with its footnote marker."""
        f = self.rf.facts[key]
        args = self.note_args(f)
        ident = (f.note, tuple(sorted(args.items())), tuple(f.releases), f.query if f.note != "note_period" else "")
        note = self._by_id.get(ident)
        if note is None:
            note = Footnote(len(self.footnotes) + 1, f.note, args, f.releases, [f.query])
            self._by_id[ident] = note
            self.footnotes.append(note)
        if f.query not in note.queries:
            note.queries.append(f.query)
        if key not in note.facts:
            note.facts.append(key)
        self.usage.append(key)
        value = format_fact(f, self.lang)
        if self.fmt == "html":
            # a bracketed reference after a thin space: copied text reads "323 [3]", never "3233"
            return Markup('<span class="fact" data-fact="{}" title="{}">{}</span>\u2009<a class="fn" href="#fn{}">'
                          '[{}]</a>').format(key, in_language(f.definition, self.lang), value, note.number, note.number)
        return f"{value}[^{note.number}]"

    def t(self, msg: str, **kw: Any) -> Any:
        """Catalog text with its placeholders filled by fragments (escaped unless already formatted)."""
        text = self.msgs[msg]
        if self.fmt == "html":
            return escape(text).format(**kw)
        return text.format(**{k: v for k, v in kw.items()})

    def note_text(self, note: Footnote) -> Any:
        body = self.msgs[note.note].format(**note.args)
        if note.note == "note_period":  # the user's request, not a figure from a release
            return escape(body) if self.fmt == "html" else md_escape(body)
        rels = ", ".join(note.releases) or self.msgs["label_no_release"]
        if self.fmt == "html":
            queries = Markup("; ").join(Markup("<code>{}</code>").format(q) for q in note.queries if q)
            return Markup("{} <em>{}:</em> {}. <em>{}:</em> {}").format(
                body, self.msgs["label_releases"], rels, self.msgs["label_query"], queries)
        queries = "; ".join(md_code(q) for q in note.queries if q)
        return f"{md_escape(body)} *{self.msgs['label_releases']}:* {md_escape(rels)}. *{self.msgs['label_query']}:* {queries}"

    def has(self, key: str) -> bool:
        return key in self.rf.facts

    def value(self, key: str) -> Any:
        return self.rf.facts[key].value


def _env(fmt: str) -> Environment:
    return Environment(loader=PackageLoader("icemonitor.present", "templates"), autoescape=fmt == "html",
                       undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


@dataclass
class Rendered:
    text: str
    usage: list[str]
    footnotes: list[Footnote]
    charts: list[tuple[str, str]]


PAPERS = {"letter": "letter", "a4": "A4"}  # CSS page sizes; US Letter is the default


def render(rf: ReportFacts, lang: str, fmt: str, chart_src: Callable[[str], str] | None = None,
           with_charts: bool = True, paper: str = "letter") -> Rendered:
    """Render the article. For md, `chart_src(name)` gives the relative path each chart's SVG is written to."""
    from icemonitor.present.charts import charts

    r = Renderer(rf, lang, fmt)
    svgs = charts(rf, r.msgs, lang) if with_charts else []
    if fmt == "html":
        images = [(name, "data:image/svg+xml;base64," + base64.b64encode(svg.encode()).decode()) for name, svg in svgs]
    else:
        images = [(name, chart_src(name) if chart_src else f"{name}.svg") for name, _ in svgs]
    if paper not in PAPERS:
        raise InputError("unknown paper size; choose letter or a4", field="paper", value=paper)
    tmpl = _env(fmt).get_template(f"report.{fmt}.j2")
    text = tmpl.render(rf=rf, r=r, f=r.fact, t=r.t, txt=r.txt, src=r.src, lang=lang, images=images, paper=PAPERS[paper],
                       chart_titles={"daily": r.msgs["chart_daily_title"], "counties": r.msgs["chart_county_title"]})
    return Rendered(text=text, usage=list(r.usage), footnotes=list(r.footnotes), charts=svgs)


def html_to_pdf(html: str, output: Path) -> None:
    """Write a PDF with WeasyPrint (needs Pango/HarfBuzz system libraries; see docs/reports.md)."""
    try:
        from weasyprint import HTML
    except (ImportError, OSError) as exc:  # OSError: the system libraries are missing
        raise InputError(f"PDF output needs WeasyPrint and its system libraries ({exc}); see docs/reports.md",
                         field="format", value="pdf") from None
    HTML(string=html).write_pdf(str(output))


def write_report(rf: ReportFacts, lang: str, fmt: str, output: Path, paper: str = "letter") -> list[Path]:
    """Render and write the report; returns the files written (md also writes one SVG per chart beside it)."""
    if fmt not in FORMATS:
        raise InputError("unknown format; choose html, pdf or md", field="format", value=fmt)
    output = Path(output)
    written = [output]
    if fmt == "md":
        stem = output.stem
        rendered = render(rf, lang, "md", chart_src=lambda name: f"{stem}-{name}.svg")
        for name, svg in rendered.charts:
            path = output.with_name(f"{stem}-{name}.svg")
            path.write_text(svg, encoding="utf-8")
            written.append(path)
        output.write_text(rendered.text, encoding="utf-8")
    elif fmt == "html":
        output.write_text(render(rf, lang, "html", paper=paper).text, encoding="utf-8")
    else:
        html_to_pdf(render(rf, lang, "html", paper=paper).text, output)
    return written
