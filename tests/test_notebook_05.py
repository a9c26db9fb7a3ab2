"""Notebook 05 trains its whole sweep at smoke size under the runner and records its figures and claims."""

from __future__ import annotations

import nbformat
import pytest

from gdlib.claims import load_claims
from gdlib.controls import AVERAGE, GENERATORS
from gdlib.curves import load_curves
from gdlib.paths import REPO
from gdlib.runner import load_profile, run_notebooks

NOTEBOOK = REPO / "notebooks" / "05_composition.ipynb"
FIGURES = ["05_fig10be_rim.png", "05_fig10c_test_region_samples.png", "05_fig11b_lesion.png",
           "05_fig12cdef_squares.png", "05_fig4ab_fig9_fig11a_fig12ab_layouts.png", "05_fig4cde_sos_regions.png",
           "05_fig4g_bump_stripes.png", "05_learning_curves.png"]
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
    for claim in ("C7", "C7b", "C8"):  # the rim images each reading of the cross keeps (issue 20 item 1)
        assert "(trained under 'frame'): rim images kept by each reading of the cross: frame " in claims[claim].note
    assert "median" in claims["C7"].measured and "within 1 px" in claims["C7"].measured  # the graded error
    assert "of the bump images kept" in claims["C8"].note
    assert {f.file for f in figures} == {f"figures/{name}" for name in FIGURES}
    # one sweep: every model under outputs/models/composition, each with its final evaluation
    # every model once per training seed: 12 models x the smoke profile's seeds, one sweep
    seeds = load_profile("smoke")["05_composition"]["SEEDS"]
    runs = list((tmp_path / "models" / "composition").glob("*/final.pt"))
    assert len(seeds) == 2 and len(runs) == 12 * len(seeds)
    assert all(any(r.parent.glob("eval_final_*.npz")) for r in runs)
    assert all(f"mean of {len(seeds)} seeds" in c.note for c in claims.values())  # the claims judge the seed mean
    report = (tmp_path / "REPORT.md").read_text()
    assert "| C6a |" in report and "| C9 |" in report and "05_fig4cde_sos_regions.png" in report
    # learning curves (issue 20 items 2, 3, 8): every model's OOD accuracy at 1, 2 and 4 steps (smoke), beside the
    # controls; every claim carries the still-learning gate of each model it rests on; the report has the end points
    [(notebook, profile, _, curves)] = load_curves(tmp_path)
    assert (notebook, profile, len(curves)) == ("05_composition", "smoke", 12)
    steps = load_profile("smoke")["05_composition"]["STEPS"]
    assert all(c.steps == (1, 2, steps) == (1, 2, 4) and len(c.values) == 3 for c in curves)
    assert all(set(c.controls) == set(GENERATORS) for c in curves)
    for c in claims.values():
        assert {g.model for g in c.gates if g.steps} == {g.model for g in c.gates if not g.steps}
    assert "## What more compute does" in report and "| 2D+1D | OOD strict joint |" in report


@pytest.mark.slow
def test_notebook_05_records_c7_c7b_and_c8_under_the_into_rim_reading_beside_the_paper_reading(tmp_path, monkeypatch):
    monkeypatch.setenv("GDLIB_THREADS", "1")
    results = run_notebooks(profile="smoke", only="05", overrides={"COMPARE_READINGS": True, "SEEDS": [0]},
                            output_dir=tmp_path, progress_bar=False)
    assert [r.status for r in results] == ["ok"], results[0].message
    claims = {c.id: c for c in load_claims(tmp_path)[0]}
    variants = {f"{c} (into rim)" for c in ("C7", "C7b", "C8")}
    assert set(claims) == CLAIMS | variants
    for claim in ("C7", "C7b", "C8"):
        paper, strict = claims[claim], claims[f"{claim} (into rim)"]
        assert "(trained under 'frame')" in paper.note and "(trained under 'into rim')" in strict.note
        assert all(k.endswith(" (into rim)") for g in strict.gates for k in [g.model])
    # the paper's reading keeps more rim images than the stricter one, and both counts are in each row
    counts = claims["C7"].note.split("rim images kept by each reading of the cross: ")[1].split(";")[0]
    frame, into_rim = (int(part.split()[-1].replace(",", "")) for part in counts.split(", "))
    assert frame > into_rim > 0
    models = list((tmp_path / "models" / "composition").glob("*/final.pt"))
    assert len(models) == 12 + 4  # 2D+1D, 1D + rim and the two bump + stripe models again; 2D and 1D are shared
