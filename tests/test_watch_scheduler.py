"""The scheduler loop and its interval syntax."""

from __future__ import annotations

import pytest

from icemonitor.errors import InputError
from icemonitor.watch.scheduler import parse_interval, run


def test_parse_interval():
    assert parse_interval("24h") == 86400 and parse_interval("90s") == 90 and parse_interval("1.5d") == 129600
    for bad in ("", "24", "h", "-1h", "0m", "5 weeks"):
        with pytest.raises(InputError, match="field 'every'"):
            parse_interval(bad)


def test_refreshes_on_the_interval_and_delivers_in_between():
    t = {"now": 0.0}
    events: list[tuple[str, float]] = []

    def sleep(seconds):
        t["now"] += seconds

    def refresh():
        events.append(("refresh", t["now"]))
        if len(events) == 1:
            raise RuntimeError("one bad round")  # logged; the loop goes on

    run(3600, refresh, lambda: events.append(("deliver", t["now"])), poll=1000, iterations=3,
        sleep=sleep, clock=lambda: t["now"])
    assert [e for e in events if e[0] == "refresh"] == [("refresh", 0.0), ("refresh", 3600.0), ("refresh", 7200.0)]
    assert [e[1] for e in events if e[0] == "deliver"][:3] == [1000.0, 2000.0, 3000.0]


def test_webhook_verify_helper_rejects_tampering_and_replays():
    import hashlib
    import hmac

    from icemonitor.watch.delivery import sign, verify

    body, ts = b'{"id":"x"}', "1700000000"
    sig = sign(b"k", ts, body)
    assert sig == "sha256=" + hmac.new(b"k", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert verify(b"k", ts, body, sig, now=1700000100)
    assert not verify(b"k", ts, body + b" ", sig, now=1700000100)
    assert not verify(b"k", "1700000001", body, sig, now=1700000100)  # the timestamp is signed too
    assert not verify(b"k", ts, body, sig, now=1700000000 + 301)  # too old: a replay
    assert not verify(b"other", ts, body, sig, now=1700000100)
