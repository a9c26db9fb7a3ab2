"""Notebook 06 runs its whole sweep under the smoke profile and records its figures, claim C10 and the learning curves
C10 is gated on."""

from __future__ import annotations

import nbformat
import pytest

from gdlib.claims import load_claims
from gdlib.controls import BLANK, COPY
from gdlib.curves import load_curves
from gdlib.paths import REPO
from gdlib.runner import load_profile, run_notebooks

NOTEBOOK = REPO / "notebooks" / "06_sample_efficiency.ipynb"
SWEEP_PARAMETERS = ("EXECUTOR", "WORKERS", "SLURM_PARTITION", "SLURM_TIME_MIN", "SLURM_GPUS", "ARRAY_PARALLELISM")


def test_the_committed_parameters_cell_holds_the_quick_values_and_the_sweep_executor():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1
    namespace: dict = {}
    exec(params[0].source, namespace)
    assert namespace["PROFILE"] == "quick" and namespace["OUTPUT_DIR"] == "../outputs"
    # quick trains two one-thread models at once on two cores; smoke (tests) and full (one GPU) one at a time
    assert namespace["INTERACTIVE"] is True and namespace["EXECUTOR"] == "processes"
    assert load_profile("smoke")["06_sample_efficiency"]["EXECUTOR"] == "local"
    assert load_profile("full")["06_sample_efficiency"]["EXECUTOR"] == "local"
    assert set(SWEEP_PARAMETERS) <= set(namespace)
    assert len(namespace["SIZES"]) >= 3 and len(namespace["PERCENTS"]) >= 3
    for profile in ("smoke", "quick", "full"):
        assert set(load_profile(profile).get("06_sample_efficiency") or {}) <= set(namespace)
    full = load_profile("full")["06_sample_efficiency"]
    assert max(full["SIZES"]) == 32 and len(full["SEEDS"]) >= 3


@pytest.mark.slow
def test_notebook_06_runs_under_smoke_and_records_fig5_and_claim_c10(tmp_path, monkeypatch):
    monkeypatch.setenv("GDLIB_THREADS", "1")  # tiny models: one thread beats two contended ones
    results = run_notebooks(profile="smoke", only="06", output_dir=tmp_path, progress_bar=False)
    assert [r.status for r in results] == ["ok"]
    figures = sorted(p.name for p in (tmp_path / "figures").glob("06_*.png"))
    assert figures == ["06_fig5ab_accuracy.png", "06_fig5c_data_needed.png", "06_learning_curves.png", "06_samples.png",
                       "06_training_sets.png"]
    records, figures = load_claims(tmp_path)
    c10 = {c.id: c for c in records}["C10"]
    assert c10.verdict == "not decided" and c10.profile == "smoke" and "smoke" in c10.reason
    assert "bumps needed: baseline" in c10.measured and ">= 0.7" in c10.criterion
    assert {r.name for r in c10.rows if r.role == "control"} == {
        "blank", "nearest training image", "null world: stripes do nothing", "null world: stripes hurt"}
    assert {f.paper_figure for f in figures} >= {"Fig. 5a-b", "Fig. 5c"}
    # the smoke sweep: 2 data sets x 2 sizes x 2 percentages x 1 seed, every model trained and evaluated
    finals = list((tmp_path / "models" / "sample_efficiency").glob("*/eval_final_*.npz"))
    assert len(finals) == 8
    # issue 20: every model's curve, three points at smoke (4 steps: 1, 2 and 4), its checkpoints sampled by the sweep
    assert len(list((tmp_path / "models" / "sample_efficiency").glob("*/eval_step*.npz"))) == 8 * 2
    [(notebook, profile, tolerance, curves)] = load_curves(tmp_path)
    assert (notebook, profile, tolerance) == ("06_sample_efficiency", "smoke", 0.05) and len(curves) == 8
    assert all(c.steps == (1, 2, 4) and set(c.controls) == {BLANK, COPY} for c in curves)
    assert {c.metric for c in curves} == {"overall strict joint"}
    settled = [g for g in c10.gates if g.steps]  # C10's still-learning gates, one per model, named by data set
    assert len(settled) == 8 and {g.model for g in settled} == {"baseline", "augmented"}
    report = (tmp_path / "REPORT.md").read_text()
    assert "| C10 |" in report and "06_fig5c_data_needed.png" in report
    assert "06_sample_efficiency (profile smoke; tolerance 5 points):" in report  # "What more compute does"
