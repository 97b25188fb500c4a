"""query.coverage.coverage_of: a label given as a message and one given as plain text keep their own words."""

from __future__ import annotations

import datetime as dt


from icemonitor.query import coverage as cov

D = dt.date


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
