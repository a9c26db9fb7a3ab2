"""Notebook 01 runs end to end under the smoke profile and its claims reach the report."""

from __future__ import annotations

import pytest

from gdlib.claims import load_claims
from gdlib.runner import run_notebooks


@pytest.mark.slow
def test_notebook_01_runs_under_smoke_and_the_report_is_assembled(tmp_path):
    results = run_notebooks(profile="smoke", only="01", output_dir=tmp_path, progress_bar=False)
    assert [r.status for r in results] == ["ok"]
    assert (tmp_path / "notebooks" / "01_datasets.ipynb").exists()
    figures = sorted(p.name for p in (tmp_path / "figures").glob("01_*.png"))
    assert figures == ["01_fig11a_fig12ab_latents.png", "01_fig14a_percolation_sets.png", "01_fig1_samples.png",
                       "01_fig4_fig9_latents.png", "01_fig6b_overlap.png", "01_fig9_samples.png"]
    claims = {c.id: c for c in load_claims(tmp_path)[0]}
    assert claims["D1"].verdict == "holds" and claims["D1"].profile == "smoke" and claims["D1"].kind == "data"
    assert "1,024" in claims["D1"].measured  # (16 / 0.5)^2
    assert claims["D2"].verdict == "holds"  # the pixel grid lifts the overlap above 1; the continuous control: 1
    report = (tmp_path / "REPORT.md").read_text()
    assert "| D1 |" in report and "01_fig6b_overlap.png" in report and "01_datasets" in report
