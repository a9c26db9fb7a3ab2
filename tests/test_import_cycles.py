"""No two modules of gdlib import each other, directly or around a longer loop (issue 23): read from the modules'
own import statements, function-level and ``TYPE_CHECKING`` imports included, since a lazy import only hides a
cycle from the interpreter, not from a reader."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

PACKAGE = Path(__file__).resolve().parents[1] / "gdlib"


def module_names(root: Path) -> dict[str, Path]:
    """Dotted name -> file, for every module under the package folder ``root`` (``__init__`` is the package)."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = (root.name, *path.relative_to(root).with_suffix("").parts)
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def imported_modules(path: Path, known: set[str]) -> set[str]:
    """The modules of ``known`` that the file imports anywhere in its body."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name in known}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            subs = {f"{node.module}.{a.name}" for a in node.names} & known  # from pkg import module
            found |= subs or ({node.module} & known)
    return found


def import_cycles(root: Path) -> list[list[str]]:
    """The groups of modules under ``root`` that reach each other by imports (strongly connected, size > 1)."""
    modules = module_names(root)
    names = sorted(modules)
    index = {name: i for i, name in enumerate(names)}
    edges = [(index[a], index[b]) for a in names for b in imported_modules(modules[a], set(names)) if b != a]
    rows, cols = zip(*edges) if edges else ((), ())
    graph = csr_matrix((np.ones(len(edges)), (rows, cols)), shape=(len(names), len(names)))
    count, label = connected_components(graph, directed=True, connection="strong")
    groups = [[names[i] for i in np.flatnonzero(label == k)] for k in range(count)]
    return [g for g in groups if len(g) > 1]


def test_gdlib_has_no_import_cycle():
    assert import_cycles(PACKAGE) == []


def test_a_planted_cycle_is_found_also_through_a_lazy_import(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from pkg.sub import b\n")
    (pkg / "sub" / "b.py").write_text("def f():\n    from pkg import c\n")
    (pkg / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pkg.a\n")
    (pkg / "d.py").write_text("import pkg.a\n")  # imports into the loop, is not part of it
    assert import_cycles(pkg) == [["pkg.a", "pkg.c", "pkg.sub.b"]]
