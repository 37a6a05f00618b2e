"""Every ``from polytok... import name`` in the project names something that exists.

Function-level (lazy) imports only fail when their code path runs, which for studies and slow
paths may be long after a module moved; this test reads every file with `ast` and resolves each
polytok import statically, so a stale lazy import fails in the default run.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FILES = sorted(
    [*ROOT.glob("polytok/**/*.py"), *ROOT.glob("scripts/*.py"), *ROOT.glob("tests/**/*.py")]
    + [ROOT / "train.py", ROOT / "eval.py"]
)


def _polytok_imports(path: Path) -> list[tuple[int, str, str | None]]:
    """(line, module, name or None) for every absolute polytok import in ``path``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] == "polytok":
                found += [(node.lineno, node.module, alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            found += [
                (node.lineno, a.name, None) for a in node.names if a.name.startswith("polytok")
            ]
    return found


def _resolves(module: str, name: str | None) -> bool:
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError:
        return False
    if name is None or name == "*" or hasattr(mod, name):
        return True
    try:  # a submodule: from polytok.sid import rqvae
        importlib.import_module(f"{module}.{name}")
    except ModuleNotFoundError:
        return False
    return True


def test_every_polytok_import_resolves() -> None:
    stale = [
        f"{path.relative_to(ROOT)}:{line}: from {module} import {name}"
        for path in FILES
        for line, module, name in _polytok_imports(path)
        if not _resolves(module, name)
    ]
    assert not stale, "imports of names that do not exist:\n" + "\n".join(stale)


def test_the_check_catches_a_stale_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from polytok.glyph.efficiency import no_such_name\n")
    ((line, module, name),) = _polytok_imports(bad)
    assert (line, module, name) == (2, "polytok.glyph.efficiency", "no_such_name")
    assert not _resolves(module, name)
    assert _resolves("polytok.glyph.efficiency", "measure")
