"""One request as a PDF (WeasyPrint), rendered from escaped HTML with every external fetch refused.

WeasyPrint logs what it cannot render by quoting it (a character without a font, a CSS value): while a request
is rendered, every WeasyPrint log record from that thread is withheld and only their number is logged, so no
character a person typed reaches the server log. The fonts that cover the scripts clients write in are
required (Debian: fonts-noto-core, fonts-noto-cjk; see the README); `missing_scripts()` names those absent.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import threading

log = logging.getLogger("icemonitor.intake")
# script -> (a fontconfig language that needs it, the Debian package that covers it)
REQUIRED_SCRIPTS = {
    "Latin": ("es", "fonts-noto-core"),
    "CJK": ("zh-cn", "fonts-noto-cjk"),
    "Ethiopic": ("am", "fonts-noto-core"),
    "Arabic": ("ar", "fonts-noto-core"),
    "Devanagari": ("hi", "fonts-noto-core"),
}
WEASYPRINT_LOGGERS = ("weasyprint", "weasyprint.progress", "fontTools")
_rendering = threading.local()


class _WithheldInThisThread(logging.Filter):
    """Drops (and counts) the records emitted by the thread that is rendering a request."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(_rendering, "active", False):
            _rendering.withheld += 1
            return False
        return True


_FILTER = _WithheldInThisThread()
for _name in WEASYPRINT_LOGGERS:
    logging.getLogger(_name).addFilter(_FILTER)


def _no_fetch(url: str, *args, **kwargs):  # noqa: ANN002, ANN003
    raise ValueError("external resources are not fetched in intake exports")


def render_pdf(html: str) -> bytes:
    """The PDF of html; WeasyPrint's own log lines (which quote the text) are withheld, their count logged."""
    from weasyprint import HTML

    _rendering.active, _rendering.withheld = True, 0
    try:
        pdf = HTML(string=html, url_fetcher=_no_fetch).write_pdf()
    finally:
        _rendering.active = False
    if _rendering.withheld:
        log.info("intake export: %d PDF renderer messages withheld (they may quote the request)", _rendering.withheld)
    return pdf


def missing_scripts() -> list[str]:
    """The required scripts no installed font covers (fontconfig's `fc-list :lang=..`), with their package."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return [f"{name} ({package})" for name, (_, package) in REQUIRED_SCRIPTS.items()]
    missing = []
    for name, (lang, package) in REQUIRED_SCRIPTS.items():
        found = subprocess.run([fc_list, f":lang={lang}", "family"], capture_output=True, text=True, check=False)
        if not found.stdout.strip():
            missing.append(f"{name} ({package})")
    return missing


def warn_missing_fonts() -> None:
    """At start: one warning naming the scripts PDF exports cannot show (they would print empty boxes)."""
    missing = missing_scripts()
    if missing:
        log.warning("intake: no font for %s: PDF exports show empty boxes for these scripts; install the "
                    "Debian packages named (see the README)", ", ".join(missing))
