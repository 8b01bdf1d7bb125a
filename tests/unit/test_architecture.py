"""Package boundaries, read from the source (ast, no imports): consumes every product module, produces a failure
naming each import that crosses a boundary. streams/ is the contract and a leaf; sinks/ import only the contract;
a stage (processors/<stage>) imports the contract, sinks and itself, never another stage; only the composition
root (surgewatch/) knows everything."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("streams", "sinks", "processors", "surgewatch")


def _imports(path: Path) -> list[tuple[int, str]]:
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.lineno, node.module))
    return [(n, m) for n, m in out if m.split(".")[0] in PRODUCT]


def allowed(module_path: Path, target: str) -> bool:
    parts = module_path.relative_to(ROOT).parts
    top, wanted = parts[0], target.split(".")
    if top == "surgewatch":
        return True
    if top == "streams":
        return wanted[0] == "streams"
    if top == "sinks":
        return wanted[0] in ("streams", "sinks")
    if top == "processors":
        stage = parts[1] if len(parts) > 2 else None
        return wanted[0] in ("streams", "sinks") or (wanted[0] == "processors" and len(wanted) > 1
                                                       and wanted[1] == stage)
    return True


def violations() -> list[str]:
    found = []
    for top in PRODUCT[:3]:
        for path in sorted((ROOT / top).rglob("*.py")):
            for lineno, target in _imports(path):
                if not allowed(path, target):
                    found.append(f"{path.relative_to(ROOT)}:{lineno} imports {target}")
    return found


def test_no_import_crosses_a_package_boundary() -> None:
    assert violations() == []


def test_the_rule_catches_a_crossing() -> None:
    stage = ROOT / "processors" / "spikes" / "agent.py"
    assert not allowed(stage, "processors.index.documents")
    assert not allowed(ROOT / "streams" / "records.py", "processors.enrich")
    assert not allowed(ROOT / "sinks" / "elasticsearch" / "bulk.py", "processors.index")
    assert not allowed(stage, "surgewatch.app")
    assert allowed(stage, "processors.spikes.keys") and allowed(stage, "sinks.elasticsearch")
