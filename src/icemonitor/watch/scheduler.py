"""`icemonitor scheduler --every 24h`: refresh on an interval, delivering due alerts in between."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable

from icemonitor.errors import InputError
from icemonitor.messages import msg
from icemonitor.messages.cli_lang import error_text

log = logging.getLogger(__name__)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_interval(text: str) -> float:
    """'90s', '30m', '24h', '1d' -> seconds."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd])\s*", text or "")
    if not m or float(m.group(1)) <= 0:
        raise InputError(msg("intervals look like 90s, 30m, 24h or 1d"), field="every", value=text)
    return float(m.group(1)) * _UNITS[m.group(2)]


def run(
    every: float,
    refresh_once: Callable[[], object],
    deliver_once: Callable[[], object],
    *,
    poll: float = 300.0,
    iterations: int | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    lang: str = "en",
) -> None:
    """Refresh now and then every `every` seconds; between refreshes, deliver due alerts every `poll` seconds.

    Errors of one round are logged (in `lang`) and the loop goes on (a held lock just skips that round)."""
    next_refresh = clock()
    rounds = 0
    while iterations is None or rounds < iterations:
        now = clock()
        if now >= next_refresh:
            rounds += 1
            next_refresh = now + every
            _safely("refresh", refresh_once, lang)
        else:
            _safely("deliver", deliver_once, lang)
        sleep(max(min(poll, next_refresh - clock()), 0.0))


def _safely(what: str, fn: Callable[[], object], lang: str) -> None:
    try:
        fn()
    except Exception as err:  # noqa: BLE001 - the scheduler keeps going; the error is logged and in the state DB
        said = error_text(err, lang)
        line = msg("refresh failed: {err}", err=said) if what == "refresh" else msg("sending alerts failed: {err}",
                                                                                     err=said)
        log.error("%s", line.render(lang))


