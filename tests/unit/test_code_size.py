"""Code size limits of the product packages: no function over 80 lines, no module over 600 (an ast walk)."""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Iterator, List, Tuple

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: package roots checked so far; widen the list as packages are brought within the limits
CHECKED_ROOTS = ["streams", "sinks", "processors", "surgewatch"]
MAX_FUNCTION_LINES = 80
MAX_MODULE_LINES = 600


def _modules() -> List[Path]:
    return sorted(p for root in CHECKED_ROOTS for p in (ROOT / root).rglob("*.py"))


def _functions(tree: ast.AST) -> Iterator[Tuple[str, int, int]]:
    """(qualified name, first line, number of lines) of every function, nested ones too."""
    def walk(node: ast.AST, prefix: str) -> Iterator[Tuple[str, int, int]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                first = min([child.lineno] + [d.lineno for d in child.decorator_list])
                yield prefix + child.name, first, (child.end_lineno or child.lineno) - first + 1
                yield from walk(child, prefix + child.name + ".")
            elif isinstance(child, ast.ClassDef):
                yield from walk(child, prefix + child.name + ".")
            else:
                yield from walk(child, prefix)
    return walk(tree, "")


def test_checked_roots_hold_modules() -> None:
    assert all((ROOT / r).is_dir() for r in CHECKED_ROOTS)
    assert len(_modules()) >= 10


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_module_and_function_sizes(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    lines = source.count("\n") + (not source.endswith("\n") and bool(source))
    assert lines <= MAX_MODULE_LINES, f"{path.relative_to(ROOT)}: {lines} lines > {MAX_MODULE_LINES}"
    too_long = [f"{name} (line {first}): {n} lines" for name, first, n in _functions(ast.parse(source))
                if n > MAX_FUNCTION_LINES]
    assert not too_long, f"{path.relative_to(ROOT)}: functions over {MAX_FUNCTION_LINES} lines: {too_long}"
