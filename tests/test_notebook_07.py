"""Notebook 07 runs end to end under the smoke profile and its claims reach the report."""

from __future__ import annotations

import pytest

from gdlib.claims import load_claims
from gdlib.runner import load_profile, run_notebooks


@pytest.mark.slow
def test_notebook_07_runs_under_smoke_and_the_report_is_assembled(tmp_path):
    results = run_notebooks(profile="smoke", only="07", output_dir=tmp_path, progress_bar=False)
    assert [r.status for r in results] == ["ok"]
    assert (tmp_path / "notebooks" / "07_percolation.ipynb").exists()
    figures = sorted(p.name for p in (tmp_path / "figures").glob("07_*.png"))
    assert figures == ["07_fig13_thresholds.png", "07_fig14a_training_sets.png", "07_fig14b_mass_ratio.png",
                       "07_fig14c_losses.png", "07_fig15_representations.png", "07_fig6b_overlap.png",
                       "07_fig6c_mass_ratio.png", "07_fig6d_sigma01_bump.png", "07_fig6e_accuracy.png"]
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
