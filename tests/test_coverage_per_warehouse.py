"""query.coverage.coverage_of, kept per warehouse version and question: the kept answer is the one worked out
afresh (for the nation, an AOR, a state, periods, fields, one release), and every caller gets its own copy."""

from __future__ import annotations

import datetime as dt

import pytest

from icemonitor.query import coverage as cov
from icemonitor.query.selection import Selection

D = dt.date


@pytest.mark.parametrize("place, d0, d1, fields, release", [
    (None, None, None, (), None),
    (None, D(2014, 1, 1), D(2016, 6, 30), ("criminality",), None),
    ("LOS", None, None, (), None),
    ("LOS", D(2017, 10, 1), D(2018, 9, 30), ("method_class",), None),
    ("SEA", D(2010, 1, 1), D(2030, 1, 1), (), None),
    ("CA", D(2016, 1, 1), D(2017, 12, 31), (), None),
])
def test_kept_coverage_is_the_coverage_worked_out(warehouse_con, place, d0, d1, fields, release):
    compiled = Selection.of("arrests", d0, d1, place, {}).compile(warehouse_con)
    p, label = compiled.place, compiled.label
    fresh = cov._coverage_of.__wrapped__(warehouse_con, "arrests", d0, d1, p, label, fields, release, None)
    assert cov._coverage_of(warehouse_con, "arrests", d0, d1, p, label, fields, release, None, "x") == fresh
    first = cov.coverage_of(warehouse_con, "arrests", d0, d1, p, label, list(fields), release)
    assert first == fresh and first is not fresh
    first.covered_spans.append({"from": "x"})
    first.lower_bound, first.reason = 7, "changed"
    again = cov.coverage_of(warehouse_con, "arrests", d0, d1, p, label, fields, release)
    assert again == fresh and again.to_dict() == fresh.to_dict()


def test_a_message_label_and_its_english_text_are_kept_apart(warehouse_con):
    """A label that is a message (rendered in the reader's language) and a plain text equal to its English get
    their own coverage: the reason of each names the label as it was given."""
    from icemonitor.messages import Message, msg

    d0, d1 = D(2030, 1, 1), D(2030, 12, 31)  # no records: the reason names the place
    text = cov.coverage_of(warehouse_con, "arrests", d0, d1, None, "the United States")
    message = cov.coverage_of(warehouse_con, "arrests", d0, d1, None, msg("the United States"))
    assert text.status == message.status == "none"
    label_of = lambda c: c.reason.params["where"].params["place"]  # noqa: E731
    assert type(label_of(text)) is str and isinstance(label_of(message), Message)
