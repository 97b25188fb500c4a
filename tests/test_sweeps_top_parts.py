"""sweeps._detail's concentration: the five parts with the largest rounded excess, found among a prefiltered few
(_top_candidates), are those a full sort of every part gives."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from icemonitor.analysis.sweeps import _detail


def _full_sort(parts: list[list], expected: float) -> list[dict]:
    tot = sum(r[2] for r in parts) or 1
    ranked = sorted(enumerate(parts), key=lambda ir: (-round(ir[1][1] - ir[1][2] / tot * expected, 1), -ir[1][1],
                                                      str(ir[1][0]), ir[0]))
    return [{"part": r[0], "observed": r[1], "expected": round(r[2] / tot * expected, 1),
             "excess": round(r[1] - r[2] / tot * expected, 1)} for _, r in ranked[:5]]


part = st.tuples(st.sampled_from(["A", "B", "C", "(blank)", "D", "E"]) | st.text(max_size=3),
                 st.integers(0, 40), st.integers(0, 400))


@settings(max_examples=400, deadline=None)
@given(st.lists(part, max_size=60), st.floats(0, 500, allow_nan=False) | st.integers(0, 500))
def test_top_parts_are_those_of_a_full_sort(parts, expected) -> None:
    parts = [list(p) for p in parts]
    counts = {"parts": parts, "mix": [], "crim": []}
    assert _detail(counts, {"expected": expected})["concentration"] == _full_sort(parts, expected)


def test_ties_near_the_rounding_edge_keep_the_full_sort_order() -> None:
    # excesses 2.04, 2.05, 2.06, 1.96 ... round to 2.0 / 2.1: the tie-breaks (observed, name, order) decide
    parts = [[f"p{i}", o, b] for i, (o, b) in enumerate([(3, 96), (3, 95), (3, 94), (2, 4), (3, 104), (4, 196),
                                                          (3, 95), (1, 0), (5, 300), (3, 100)])]
    expected = sum(r[2] for r in parts) / 100
    counts = {"parts": parts, "mix": [], "crim": []}
    assert _detail(counts, {"expected": expected})["concentration"] == _full_sort(parts, expected)
