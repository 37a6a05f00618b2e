"""The package's import graph: layers only downward, no cycle between files, no upward import string.

Reads the layers contract of ``pyproject.toml`` (the table `lint-imports` checks too) and parses
every file of ``polytok/`` with `ast`, so function-level (lazy) imports count; imports under
``if TYPE_CHECKING:`` do not run and are skipped, as ``exclude_type_checking_imports`` does for
import-linter. An *import string* is a string constant that is a whole dotted ``polytok.`` path,
optionally ``module:attribute`` (registry tables, ``importlib.import_module`` arguments).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "polytok"
# Edges allowed against the rules, each with its reason (the same list is ``ignore_imports`` in
# pyproject.toml). None today; an entry is a pair (importing module, imported module).
EXCEPTIONS: set[tuple[str, str]] = set()
MAX_FUNCTION_LINES = 60  # issue 16: longer functions are split into named steps
IMPORT_STRING = re.compile(r"polytok(?:\.\w+)+(?::[\w.]+)?")


def contract(contract_id: str) -> dict:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return next(c for c in config["contracts"] if c.get("id") == contract_id)


def layer_table() -> list[list[str]]:
    """Layers lowest first, each a list of independent sibling packages/modules."""
    layers = contract("layers")["layers"]
    return [[name.strip() for name in layer.split("|")] for layer in reversed(layers)]


def all_modules() -> dict[str, Path]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


MODULES = all_modules()


def owner(module: str) -> str:
    """The longest module of the package that ``module`` names (``polytok.x.Y`` -> ``polytok.x``)."""
    while module and module not in MODULES:
        module = module.rpartition(".")[0]
    return module


def place(module: str, layers: list[list[str]]) -> tuple[int, str] | None:
    """(layer index, sibling) of a module; ``polytok`` itself (the lazy exports) is the top."""
    if module == "polytok":
        return len(layers), "polytok"
    for index, siblings in enumerate(layers):
        for sibling in siblings:
            if module == sibling or module.startswith(sibling + "."):
                return index, sibling
    return None


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skipped: set[int] = set()
    for node in ast.walk(tree):
        test = getattr(node, "test", None)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(test):
            for child in node.body:
                skipped.update(id(n) for n in ast.walk(child))
    return skipped


def _docstring_nodes(tree: ast.AST) -> set[int]:
    nodes = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            if isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
                nodes.add(id(body[0].value))
    return nodes


def imports_of(module: str) -> Iterator[tuple[str, int, str]]:
    """``(target module, line, kind)`` for each import (``kind`` "import" or "string")."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = _type_checking_nodes(tree)
    docstrings = _docstring_nodes(tree)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("polytok"):
                    yield owner(alias.name), node.lineno, "import"
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package
                for _ in range(node.level - 1):
                    anchor = anchor.rpartition(".")[0]
                base = f"{anchor}.{base}" if base else anchor
            if not base.startswith("polytok"):
                continue
            for alias in node.names:
                yield owner(f"{base}.{alias.name}"), node.lineno, "import"
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if id(node) not in docstrings and IMPORT_STRING.fullmatch(node.value):
                yield owner(node.value.partition(":")[0]), node.lineno, "string"


def graph() -> dict[str, set[str]]:
    return {
        m: {
            target
            for target, _, kind in imports_of(m)
            if kind == "import" and target != m and (m, target) not in EXCEPTIONS
        }
        for m in MODULES
    }


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one file (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    counter = 0
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def violations(kinds: tuple[str, ...]) -> list[str]:
    layers = layer_table()
    found = []
    for module in sorted(MODULES):
        here = place(module, layers)
        for target, line, kind in imports_of(module):
            if kind not in kinds or target in (module, "polytok") or (module, target) in EXCEPTIONS:
                continue  # the root package is the namespace (``__version__``, lazy exports)
            there = place(target, layers)
            if here is None or there is None:
                continue  # test_every_module_has_a_layer names it
            upward = there[0] > here[0]
            sideways = there[0] == here[0] and there[1] != here[1]
            if upward or sideways:
                found.append(f"{MODULES[module].relative_to(ROOT)}:{line} {kind} -> {target}")
    return found


def test_every_module_has_a_layer() -> None:
    layers = layer_table()
    missing = sorted(m for m in MODULES if place(m, layers) is None)
    assert not missing, f"modules in no layer of pyproject.toml's layers contract: {missing}"


def test_no_import_cycle_between_files() -> None:
    found = cycles(graph())
    assert not found, f"import cycles (lazy imports counted): {found}"


def test_imports_go_downward() -> None:
    found = violations(("import",))
    assert not found, "imports that point upward or sideways:\n" + "\n".join(found)


def test_no_import_string_points_upward() -> None:
    found = violations(("string",))
    assert not found, "import strings that point upward or sideways:\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import polytok.glyph.hybrid\n", [("polytok.glyph.hybrid", "import")]),
        ("def f():\n    from polytok.reso import primes\n", [("polytok.reso.primes", "import")]),
        (
            'TABLE = {"x": "polytok.glyph.hybrid:HybridTokenizer"}\n',
            [("polytok.glyph.hybrid", "string")],
        ),
        ('"""Docstring naming polytok.glyph.hybrid."""\n', []),
        ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import polytok.glyph\n", []),
    ],
)
def test_detector_sees_lazy_imports_and_strings(tmp_path, monkeypatch, source, expected) -> None:
    """The checks above would catch the patterns of the issue (a lazy import, a registry string)."""
    fake = tmp_path / "probe.py"
    fake.write_text(source)
    monkeypatch.setitem(MODULES, "polytok.tokenizers.probe", fake)
    found = [(t, k) for t, _, k in imports_of("polytok.tokenizers.probe")]
    assert found == expected


def long_functions(limit: int = MAX_FUNCTION_LINES) -> list[str]:
    """Functions of ``polytok/`` over ``limit`` lines (``def`` to last line, docstring included)
    without a ``# long: <why>`` comment on the line above."""
    found = []
    for path in sorted(MODULES.values()):
        source = path.read_text(encoding="utf-8")
        lines = source.splitlines()
        for node in ast.walk(ast.parse(source)):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            size = node.end_lineno - node.lineno + 1
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            if size > limit and not lines[first - 2].strip().startswith("# long:"):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({size} lines)")
    return found


def test_functions_are_short_or_say_why() -> None:
    found = long_functions()
    assert not found, "split these into named steps, or say why above the def (# long: ...):\n" + (
        "\n".join(found)
    )
    assert long_functions(limit=40), "the check finds nothing at a lower limit: is it blind?"


def test_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
