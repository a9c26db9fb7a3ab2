"""Committed notebooks are clean: no outputs, one plain `parameters` cell, the gdlib kernel."""

from __future__ import annotations

import ast

import nbformat
import pytest

from gdlib.paths import REPO
from gdlib.runner import RUNNER_PARAMETERS

NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


@pytest.fixture(params=NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def notebook(request):
    return nbformat.read(request.param, as_version=4)


def parameter_cells(nb):
    return [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]


def test_committed_notebook_has_no_outputs_or_execution_counts(notebook):
    for i, cell in enumerate(notebook.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"cell {i} has outputs"
            assert cell.execution_count is None, f"cell {i} has an execution count"
        executed = {"papermill", "execution"} & set(cell.metadata)
        assert not executed, f"cell {i} has {sorted(executed)} metadata: an executed copy?"
        assert "injected-parameters" not in cell.metadata.get("tags", []), f"cell {i}: executed copy?"
    assert "papermill" not in notebook.metadata


def test_committed_notebook_runs_on_the_gdlib_kernel(notebook):
    assert notebook.metadata.get("kernelspec", {}).get("name") == "gdlib"


def test_parameters_cell_is_unique_and_holds_only_literal_assignments(notebook):
    cells = parameter_cells(notebook)
    assert len(cells) == 1, f"{len(cells)} cells tagged 'parameters'"
    tree = ast.parse(cells[0].source)
    names = []
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            target = node.targets[0]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            target = node.target
        else:
            raise AssertionError(f"line {node.lineno}: only NAME = literal in the parameters cell")
        ast.literal_eval(node.value)  # raises ValueError on anything but a plain literal
        names.append(target.id)
    assert len(names) == len(set(names)), "a parameter is assigned twice"
    assert set(RUNNER_PARAMETERS) <= set(names), f"missing {sorted(set(RUNNER_PARAMETERS) - set(names))}"
