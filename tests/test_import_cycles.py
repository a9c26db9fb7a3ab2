"""No two modules of gdlib import each other, directly or around a longer loop (issue 23): read from the modules'
own import statements, function-level and ``TYPE_CHECKING`` imports included, since a lazy import only hides a
cycle from the interpreter, not from a reader."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

PACKAGE = Path(__file__).resolve().parents[1] / "gdlib"
DYNAMIC = ("import_module", "__import__")  # importlib.import_module, import_module, __import__ of a constant name


def module_names(root: Path) -> dict[str, Path]:
    """Dotted name -> file, for every module under the package folder ``root`` (``__init__`` is the package)."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = (root.name, *path.relative_to(root).with_suffix("").parts)
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def imported_modules(path: Path, name: str, known: set[str]) -> set[str]:
    """The modules of ``known`` that module ``name`` (file ``path``) imports anywhere in its body: absolute and
    relative imports, each name of ``from pkg import a, b`` that is a module (else ``pkg`` itself), the parent
    packages an import runs first, and ``importlib.import_module`` of a constant name. The parent edge is
    conservative: a package whose ``__init__`` imports a submodule that imports a sibling is a loop here even where
    Python resolves it (a re-export); gdlib's ``__init__`` files import no submodule of their own."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # from . import x, from ..a import f: relative to this module's package
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            targets |= {f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names}
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in DYNAMIC
              and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            targets.add(node.args[0].value)
    parents = {".".join(t.split(".")[:k]) for t in targets for k in range(1, t.count(".") + 1)}
    return (targets | parents) & known


def import_cycles(root: Path) -> list[list[str]]:
    """The groups of modules under ``root`` that reach each other by imports (strongly connected, size > 1)."""
    modules = module_names(root)
    names = sorted(modules)
    index = {name: i for i, name in enumerate(names)}
    edges = [(index[a], index[b]) for a in names for b in imported_modules(modules[a], a, set(names)) if b != a]
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


def plant(root: Path, files: dict[str, str]) -> list[list[str]]:
    """The cycles of a package ``root``/pkg made of ``files`` (path under pkg -> source), each folder a package."""
    for rel, source in {"__init__.py": "", **files}.items():
        path = root / "pkg" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        (path.parent / "__init__.py").touch()
        path.write_text(source)
    return import_cycles(root / "pkg")


@pytest.mark.parametrize("files, cycle", [
    ({"a.py": "from . import b\n", "b.py": "from .sub.c import f\n", "sub/c.py": "from ..a import g\n"},
     ["pkg.a", "pkg.b", "pkg.sub.c"]),  # relative imports, one and two levels up
    ({"sub/__init__.py": "from .. import e\n", "e.py": "import pkg.sub.c\n", "sub/c.py": ""},
     ["pkg.e", "pkg.sub"]),  # importing pkg.sub.c runs pkg.sub's __init__ first
    ({"__init__.py": "from pkg import g\n", "g.py": "from pkg import h, VERSION\n", "h.py": ""},
     ["pkg", "pkg.g"]),  # a module and a name from one package: edges to pkg.h and to pkg
    ({"g.py": "import importlib\nimportlib.import_module('pkg.h')\n", "h.py": "from pkg import g\n"},
     ["pkg.g", "pkg.h"]),
    ({"g.py": "from importlib import import_module\nimport_module('pkg.h')\n", "h.py": "__import__('pkg.g')\n"},
     ["pkg.g", "pkg.h"]),
])
def test_relative_names_parent_packages_and_import_module_make_edges_too(tmp_path, files, cycle):
    assert plant(tmp_path, files) == [cycle]
    assert plant(tmp_path / "without", {**files, next(iter(files)): ""}) == []  # cut at the first file: no loop
