"""Property test of the JSON API against its own OpenAPI schema: no generated input gives a 5xx."""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")
# Loaded now, at collection, rather than by the first test's schema load: pytest rewrites schemathesis's modules
# (a pytest plugin) with ast.parse, and CPython 3.11's AST converter keeps one recursion counter for the whole
# interpreter, which a server thread left by an earlier test can leave unbalanced ("SystemError: AST constructor
# recursion depth mismatch" in the full suite, never in this file alone).
import schemathesis.specs.openapi.schemas  # noqa: E402,F401
from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.generation import GenerationMode  # noqa: E402

import web_warehouse as ww  # noqa: E402
from icemonitor.web.app import create_app  # noqa: E402

pytestmark = pytest.mark.skipif(not ww.NATIONWIDE.is_dir(), reason="../shared/data not present")


@pytest.fixture(scope="session")
def web_schema(request):
    """The app over the warehouse `icemonitor build` makes (conftest's `warehouse_path`): the analyses need the
    places stage's tables, which the test-only scratch warehouse lacks."""
    try:
        path = request.getfixturevalue("warehouse_path")
    except Exception as exc:  # the build has its own tests
        pytest.skip(f"the product warehouse could not be built here: {exc}")
    app = create_app(path, ref=lambda p: ww.SHARED_DATA / p)
    return schemathesis.openapi.from_asgi("/openapi.json", app)


OPERATIONS = ["GET /api/v1/summary", "GET /api/v1/releases", "GET /api/v1/coverage", "GET /api/v1/sweeps",
              "GET /api/v1/priorities", "GET /api/v1/places/status", "GET /api/v1/targeting", "POST /api/v1/check",
              "GET /api/v1/detention/now", "GET /api/v1/detention/trend", "GET /api/v1/detention/held",
              "GET /api/v1/detention/check", "GET /api/v1/detention/errors", "GET /api/v1/detention/facilities",
              "GET /api/v1/detention/place", "GET /api/v1/detention/download/{table}", "GET /api/v1/place/{place}"]
# Fitting the targeting models takes about a second per parameter set (county level: several): fewer examples.
# A download of the largest detention table (888,699 facility-days) takes seconds: fewer examples.
# A place profile runs six analyses per request: fewer examples.
EXAMPLES = {"GET /api/v1/targeting": 6, "GET /api/v1/detention/download/{table}": 8, "GET /api/v1/place/{place}": 12}


def test_schema_has_the_operations(web_schema):
    labels = {r.ok().label for r in web_schema.get_all_operations()}
    assert set(OPERATIONS) <= labels


CASES = [(label, GenerationMode.POSITIVE) for label in OPERATIONS] + [
    (label, GenerationMode.NEGATIVE) for label in OPERATIONS if not label.endswith("releases")  # it takes no input
]


@pytest.mark.parametrize("label, mode", CASES)
def test_api_never_fails_on_generated_input(web_schema, label, mode):
    """Bounded: 40 generated requests per operation and mode (schemathesis driven by Hypothesis directly)."""
    op = next(r.ok() for r in web_schema.get_all_operations() if r.ok().label == label)
    seen = []

    @given(case=op.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES.get(label, 40), deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def check(case):
        response = case.call_and_validate(checks=[not_a_server_error])
        seen.append(response.status_code)

    check()
    assert seen and all(code < 500 for code in seen)
    if label.endswith("summary"):
        assert (200 in seen) if mode == GenerationMode.POSITIVE else (422 in seen)
