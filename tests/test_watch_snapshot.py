"""Properties of the snapshot comparison and the retry backoff."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from icemonitor.watch.delivery import Backoff
from icemonitor.watch.snapshot import Thresholds, diff, disagreements

keys = st.tuples(st.sampled_from(["arrests", "removals"]), st.sampled_from(["r1", "r2"]),
                 st.sampled_from(["2017-01", "2017-02", ""]), st.sampled_from(["LOS", "SEA", ""]))
cells = st.tuples(st.integers(0, 500), st.integers(0, 500)).map(lambda t: (max(t), min(t)))  # counted <= rows
snapshots = st.dictionaries(keys, cells, max_size=20)


@given(snapshots, snapshots)
def test_diff_accounts_for_every_row(before, after):
    changes = diff(before, after)
    total = lambda s: sum(v[0] for v in s.values())  # noqa: E731
    assert total(after) - total(before) == sum(c.added for c in changes) - sum(c.removed for c in changes)
    assert {(c.table, c.release_id, c.month, c.aor) for c in changes} == {
        k for k in set(before) | set(after) if before.get(k, (0, 0)) != after.get(k, (0, 0))}
    assert diff(before, before) == []


@given(snapshots, snapshots, st.floats(0.0, 0.5), st.integers(1, 200))
def test_disagreements_are_exactly_the_large_moves_of_big_old_cells(before, after, pct, min_rows):
    bad = disagreements("r1", before, after, Thresholds(pct, min_rows))
    expected = set()
    for k in set(before) | set(after):
        if k[1] != "r1":
            continue
        old, new = before.get(k, (0, 0))[0], after.get(k, (0, 0))[0]
        if old >= min_rows and abs(new - old) > pct * old:
            expected.add(k)
    assert {(c.table, c.release_id, c.month, c.aor) for c in bad} == expected


@given(st.integers(1, 60))
def test_backoff_doubles_up_to_the_cap(attempts):
    b = Backoff(base=60, cap=3600)
    assert b.delay(attempts).total_seconds() == min(60 * 2 ** (attempts - 1), 3600)
    assert b.delay(attempts + 1) >= b.delay(attempts)
