"""The contract of the layers (docs/architecture.md): a lower layer never imports a higher one, at module level or
inside a function. Layers read top to bottom: catalog → readers → codes → warehouse → places → query → analysis →
present / web / watch, with intake beside them; errors, config, schema and lock are below all; the command-line
modules (icemonitor/cli.py and each stage's cli.py) above all."""

from __future__ import annotations

import ast
import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "icemonitor"
LAYERS = {"errors": 0, "config": 0, "schema": 0, "lock": 0, "messages": 0, "catalog": 1, "readers": 2, "codes": 3, "warehouse": 4, "places": 5, "query": 6,
          "analysis": 7, "present": 8, "web": 8, "watch": 8, "intake": 8, "cli": 9, "__main__": 9}
# Sideways imports among the top layers (present, web, watch, intake) that the architecture allows.
SIDEWAYS: set[tuple[str, str]] = set()  # none needed today: the top layers do not import one another


# Known upward imports still to break, with the reason they remain (docs/architecture.md, "Still open").
KNOWN: dict[tuple[str, str], str] = {}  # none left


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "icemonitor" else None


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every import statement, and importlib.import_module("icemonitor....") with a literal name."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "import_module" and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            out.append((node.lineno, node.args[0].value))
    return out


def violations() -> list[str]:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC)
        own = rel.parts[0].removesuffix(".py")
        if own not in LAYERS:
            continue
        if path.name == "cli.py" or path.name.startswith("cli_"):
            own = "cli"  # a stage's command line composes stages (e.g. `build` runs the places stage): top layer
        for line, module in _imports(path):
            other = _layer(module)
            if other is None or other == own or other not in LAYERS:
                continue
            if (str(rel), module) in KNOWN:
                continue
            if LAYERS[other] > LAYERS[own] and (own, other) not in SIDEWAYS:
                found.append(f"{rel}:{line} ({own}) imports {module} ({other})")
            elif LAYERS[other] == LAYERS[own] and LAYERS[own] == 8 and (own, other) not in SIDEWAYS:
                found.append(f"{rel}:{line} ({own}) imports {module} ({other}), a sibling")
    return found


def test_no_lower_layer_imports_a_higher_one():
    assert not violations(), "\n".join(violations())


def test_the_check_sees_an_upward_import(tmp_path, monkeypatch):
    """The test can fail: a codes module importing the analysis layer is reported."""
    fake = tmp_path / "icemonitor"
    (fake / "codes").mkdir(parents=True)
    (fake / "codes" / "bad.py").write_text("def f():\n    from icemonitor.analysis.sweeps import sweeps\n")
    monkeypatch.setattr(__import__(__name__), "SRC", fake)
    assert violations() == ["codes/bad.py:2 (codes) imports icemonitor.analysis.sweeps (analysis)"]


def _module_graph() -> dict[str, set[str]]:
    """icemonitor module -> the icemonitor modules it imports (`from pkg import sub` counts as pkg.sub)."""
    graph: dict[str, set[str]] = {}
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).with_suffix("")
        name = ".".join(("icemonitor", *rel.parts)).removesuffix(".__init__")
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("icemonitor"):
                for a in node.names:
                    sub = SRC.joinpath(*node.module.split(".")[1:], a.name)
                    target = f"{node.module}.{a.name}" if sub.with_suffix(".py").exists() or sub.is_dir() else node.module
                    graph.setdefault(name, set()).add(target)
    return graph


def test_no_two_modules_import_each_other():
    graph = _module_graph()
    def nested(a: str, b: str) -> bool:  # a package's registry and its own modules: not a loop between parts
        return a.startswith(b + ".") or b.startswith(a + ".")

    loops = sorted({tuple(sorted((a, b))) for a, bs in graph.items() for b in bs
                    if a != b and not nested(a, b) and a in graph.get(b, ())})
    assert not loops, loops


def test_every_interface_reads_one_vocabulary_for_the_whole_country():
    """A watch on 'United States' is the nation, as in `summary --place "United States"` (no retyped word lists)."""
    from icemonitor.query import vocabulary
    from icemonitor.watch.places import parse
    from icemonitor.web.analyses import national

    for words in ("United States", "US", "nationwide", "Estados Unidos"):
        assert vocabulary.is_nation(words)
        assert parse(words).level == "national"
        assert national(words) is None
    names = {n for path in SRC.rglob("*.py") for n in re.findall(r'"UNITED STATES"', path.read_text())}
    assert not names, "the words for the whole country are retyped outside query/data/vocabulary.yaml"
