"""Notebook 07 runs end to end under the smoke profile and its claims and learning curves reach the report."""

from __future__ import annotations

import pytest

from gdlib.claims import load_claims
from gdlib.controls import AVERAGE, BLANK, COPY
from gdlib.curves import load_curves
from gdlib.runner import load_profile, run_notebooks


@pytest.mark.slow
def test_notebook_07_runs_under_smoke_and_the_report_is_assembled(tmp_path):
    results = run_notebooks(profile="smoke", only="07", output_dir=tmp_path, progress_bar=False)
    assert [r.status for r in results] == ["ok"]
    assert (tmp_path / "notebooks" / "07_percolation.ipynb").exists()
    figures = sorted(p.name for p in (tmp_path / "figures").glob("07_*.png"))
    assert figures == ["07_fig13_thresholds.png", "07_fig14a_training_sets.png", "07_fig14b_mass_ratio.png",
                       "07_fig14c_losses.png", "07_fig15_representations.png", "07_fig6b_overlap.png",
                       "07_fig6c_mass_ratio.png", "07_fig6d_sigma01_bump.png", "07_fig6e_accuracy.png",
                       "07_learning_curves.png"]
    claims = {c.id: c for c in load_claims(tmp_path)[0]}
    assert set(claims) == {"C11", "C12", "C12b", "C12c"}
    # the simulation runs at the paper's scale at every profile, so C11 is decided even under smoke
    c11 = claims["C11"]
    assert c11.verdict == "holds" and c11.profile == "smoke" and c11.kind == "reproduction"
    assert "sigma 0.1 -> never" in claims["C11"].measured
    assert [r.passes for r in claims["C11"].rows if r.role == "control"] == [False, False]  # both null simulations
    for cid in ("C12", "C12b", "C12c"):
        assert claims[cid].verdict == "not decided" and "smoke" in claims[cid].reason
    assert {r.name for r in claims["C12"].rows if r.role == "control"} == {"nearest training image", "blank",
                                                                          "average of two nearest training images"}
    # 2 sigma x 2 lambda models per training seed were trained, one sweep; the claims judge the seed mean
    seeds = load_profile("smoke")["07_percolation"]["SEEDS"]
    assert len(seeds) == 2 and len(list((tmp_path / "models" / "percolation").glob("*/final.pt"))) == 4 * len(seeds)
    assert all(f"mean of {len(seeds)} seeds" in claims[cid].note for cid in ("C12", "C12c"))
    assert "first seed's model" in claims["C12b"].note
    report = (tmp_path / "REPORT.md").read_text()
    assert "| C11 |" in report and "| C12 |" in report and "07_fig6e_accuracy.png" in report
    # learning curves (issue 20): every model C12 rests on (lambda 0.5; lambda 1 leaves no centre unseen) at 1 and 2
    # of its 4 steps and at its end, the seed mean of its unseen accuracy, beside the controls; C12 carries one
    # still-learning gate per such model, named by its sigma (the name its parts rest on), beside the training gates
    [(notebook, profile, _, curves)] = load_curves(tmp_path)
    assert (notebook, profile) == ("07_percolation", "smoke")
    assert [c.model for c in curves] == ["sigma 0.1, lambda 0.5", "sigma 1, lambda 0.5"]
    assert all(c.steps == (1, 2, 4) and c.metric == "unseen strict joint" for c in curves)
    assert all(set(c.controls) == {COPY, BLANK, AVERAGE} and c.controls[COPY] == 0.0 for c in curves)
    still = [g for g in claims["C12"].gates if g.steps]
    assert [(g.model, g.steps) for g in still] == [("sigma 0.1", 4), ("sigma 1", 4)]
    assert {g.model for g in claims["C12"].gates if not g.steps} == {"sigma 0.1", "sigma 1"}
    assert not any(g.steps for cid in ("C11", "C12b", "C12c") for g in claims[cid].gates)
    assert "## What more compute does" in report and "| sigma 0.1, lambda 0.5 | unseen strict joint |" in report
