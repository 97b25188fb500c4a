"""docs/security.md names, for each adversary, tests that exist."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_every_test_named_in_security_md_exists():
    doc = (REPO / "docs" / "security.md").read_text(encoding="utf-8")
    named, current = [], None
    for module, test in re.findall(r"`(test_[a-z_]+\.py)?(?:::)?(test_[a-z0-9_]+)?`", doc):
        current = module or current
        if test:
            named.append((current, test))
    assert len(named) > 40
    for module, test in named:
        assert f"def {test}(" in (REPO / "tests" / module).read_text(encoding="utf-8"), (module, test)
    for adversary in ("stolen disk", "hostile or careless staff", "Floods of fake submissions", "network observer",
                      "Legal demands"):
        assert adversary.lower() in doc.lower(), adversary
