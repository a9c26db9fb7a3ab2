"""The package's layout rules: analysis never draws, modules stay short, docs/architecture.md names every module."""

from __future__ import annotations

import subprocess
import sys

from gdlib.paths import REPO

PACKAGE = REPO / "gdlib"
#: Modules over the limit, each with the change that brings it under (not this test's business to wait for).
PENDING: dict[str, str] = {}


def modules() -> list[str]:
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(REPO).with_suffix("").parts
        names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def test_analysis_modules_import_neither_matplotlib_nor_ipywidgets():
    drawing = ("gdlib.plots", "gdlib.widgets", "gdlib.bench")
    analysis = [m for m in modules() if not m.startswith(drawing)]
    code = ("import sys\n" + "".join(f"import {m}\n" for m in analysis)
            + "print(sorted(m for m in ('matplotlib', 'ipywidgets', 'seaborn') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == "[]", f"{out.stdout.strip()} imported by one of {analysis}"


def test_no_module_is_over_350_lines_and_no_experiment_module_over_250():
    sizes = {str(p.relative_to(PACKAGE)): len(p.read_text().splitlines()) for p in PACKAGE.rglob("*.py")}
    over = {name: n for name, n in sizes.items() if n > 350 and name not in PENDING}
    assert not over, over
    experiments = {name: n for name, n in sizes.items() if name.startswith("experiments/") and n > 250}
    assert not experiments, experiments
    assert all(name in sizes for name in PENDING), "a pending module was renamed: update PENDING"


def test_the_architecture_page_names_every_module():
    layout = (REPO / "docs" / "architecture.md").read_text()
    missing = [str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
               if p.name != "__init__.py" and p.parent.name != "plots"
               and f"`{p.relative_to(PACKAGE)}`" not in layout]
    plots_row = next(line for line in layout.splitlines() if line.startswith("| `plots/` |"))
    missing += [p.name for p in (PACKAGE / "plots").glob("*.py") if f"`{p.name}`" not in plots_row]
    assert not missing, f"docs/architecture.md does not name {missing}"


def test_no_function_is_over_60_lines():
    import ast

    long = {}
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 > 60:
                long[f"{path.relative_to(PACKAGE)}:{node.name}"] = node.end_lineno - node.lineno + 1
    assert not long, long


def test_no_tracked_file_points_into_the_developers_shared_folder():
    # a user has the repository only: a path into the developers' shared/ folder, or a file name from it, is a dead link
    files = subprocess.run(["git", "ls-files"], capture_output=True, text=True, check=True, cwd=REPO).stdout.split()
    needles = ("/work/shared", "../shared/", "MEASURED.md")
    this = "tests/test_layout.py"
    hits = [f for f in files if f != this and (REPO / f).is_file()
            and any(n in (REPO / f).read_text(errors="ignore") for n in needles)]
    assert not hits, hits
