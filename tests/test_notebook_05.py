"""Notebook 05 trains its whole sweep at smoke size under the runner and records its figures and claims."""

from __future__ import annotations

import nbformat
import pytest

from gdlib.claims import load_claims
from gdlib.controls import AVERAGE, GENERATORS
from gdlib.paths import REPO
from gdlib.runner import load_profile, run_notebooks

NOTEBOOK = REPO / "notebooks" / "05_composition.ipynb"
FIGURES = ["05_fig10be_rim.png", "05_fig10c_test_region_samples.png", "05_fig11b_lesion.png",
           "05_fig12cdef_squares.png", "05_fig4ab_fig9_fig11a_fig12ab_layouts.png", "05_fig4cde_sos_regions.png",
           "05_fig4g_bump_stripes.png"]
CLAIMS = {"C6a", "C6b", "C7", "C7b", "C8", "C9", "C9b", "C9c"}


def parameters() -> dict:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1
    namespace: dict = {}
    exec(cells[0].source, namespace)
    return namespace


def test_the_committed_parameters_cell_holds_the_quick_values_and_the_sweep_executor():
    p = parameters()
    assert p["PROFILE"] == "quick" and p["OUTPUT_DIR"] == "../outputs" and p["INTERACTIVE"] is True
    # quick trains two one-thread models at once on two cores; smoke (tests) and full (one GPU) one at a time
    assert (p["EXECUTOR"], p["WORKERS"], p["SLURM_PARTITION"]) == ("processes", 2, "")
    assert load_profile("smoke")["05_composition"]["EXECUTOR"] == load_profile("full")["05_composition"]["EXECUTOR"] \
        == "local"
    assert {"SLURM_TIME_MIN", "SLURM_GPUS", "ARRAY_PARALLELISM"} <= set(p)
    assert p["N"] in (8, 16)
    # every profile section names only parameters the notebook declares
    for profile in ("smoke", "quick", "full"):
        assert set(load_profile(profile).get("05_composition", {})) <= set(p), profile


@pytest.mark.slow
def test_notebook_05_runs_under_smoke_and_records_its_figures_and_claims(tmp_path, monkeypatch):
    monkeypatch.setenv("GDLIB_THREADS", "1")  # tiny models: one thread beats two contended ones
    results = run_notebooks(profile="smoke", only="05", output_dir=tmp_path, progress_bar=False)
    assert [r.status for r in results] == ["ok"], results[0].message
    assert sorted(p.name for p in (tmp_path / "figures").glob("05_*.png")) == FIGURES
    records, figures = load_claims(tmp_path)
    claims = {c.id: c for c in records}
    assert set(claims) == CLAIMS
    for c in claims.values():
        assert c.verdict == "not decided" and c.profile == "smoke" and "smoke" in c.reason
        assert "%" in c.measured and c.criterion and c.gates
        assert {r.name for r in c.rows if r.role == "control"} <= set(GENERATORS)
    # the two-image average is a control of every positive region claim (C6a's control is the oracle alone)
    assert {c.id for c in claims.values() if AVERAGE in {r.name for r in c.rows}} == CLAIMS - {"C6a"}
    assert "vertical" in claims["C6a"].measured and "intersection" in claims["C6a"].measured
    assert [r.name for r in claims["C6a"].rows if r.role == "control"] == ["formula oracle"]
    assert "training images centred in a held-out band or its extension: 0" in claims["C7"].note
    assert "of the bump images kept" in claims["C8"].note
    assert {f.file for f in figures} == {f"figures/{name}" for name in FIGURES}
    # one sweep: every model under outputs/models/composition, each with its final evaluation
    # every model once per training seed: 12 models x the smoke profile's seeds, one sweep
    seeds = load_profile("smoke")["05_composition"]["SEEDS"]
    runs = list((tmp_path / "models" / "composition").glob("*/final.pt"))
    assert len(seeds) == 2 and len(runs) == 12 * len(seeds)
    assert all((r.parent / "eval_final.npz").exists() for r in runs)
    assert all(f"mean of {len(seeds)} seeds" in c.note for c in claims.values())  # the claims judge the seed mean
    report = (tmp_path / "REPORT.md").read_text()
    assert "| C6a |" in report and "| C9 |" in report and "05_fig4cde_sos_regions.png" in report
