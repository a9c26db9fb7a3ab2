"""Notebooks 02 -> 03 -> 04 run in a chain under the smoke profile: 03 and 04 find 02's model in the cache."""

from __future__ import annotations

import re

import pytest

from gdlib.claims import load_claims
from gdlib.runner import run_notebooks


@pytest.mark.slow
def test_notebooks_03_and_04_analyse_the_model_of_02_under_smoke(tmp_path):
    results = run_notebooks(profile="smoke", only="02,03,04", output_dir=tmp_path, progress_bar=False)
    assert [r.status for r in results] == ["ok", "ok", "ok"]
    figures = {p.name for p in (tmp_path / "figures").glob("0[34]_*.png")}
    assert {"03_fig2c_accuracy_pr.png", "03_fig2d_eigenspectra.png", "03_fig2efg_pca_projections.png", "03_umap.png",
            "03_fig2b_persistence.png", "04_fig3_torus_tests.png", "04_fig8_wasserstein.png"} <= figures
    claims = {c.id: c for c in load_claims(tmp_path)[0] if c.notebook in ("03_representation", "04_torus_geometry")}
    assert set(claims) == {"C1", "C2", "C3", "C4", "C5"}
    assert all(c.verdict == "not decided" and "smoke" in c.reason for c in claims.values())  # smoke decides nothing
    # C1's controls are trajectories over the model's own checkpoints; C2-C5's are the untrained network, noise and
    # the data's pixels, with the conditioning input as a reference whose row says whether it passes (issue 22)
    moving = {"pixels of the model's samples", "untrained network on the model's samples"}
    for c in claims.values():
        controls = {r.name: r for r in c.rows if r.role == "control"}
        assert set(controls) == (moving if c.id == "C1" else {"untrained (epoch 0)", "noise", "pixels"}), c.id
        assert c.gates and c.gates[0].model == "torus model"
        if c.id != "C1":
            reference = next(r for r in c.rows if r.name == "conditioning input")
            assert reference.role == "reference" and isinstance(reference.passes, bool), c.id
    # every row of C2, C4 and C5 (model, controls, references) reads 95% intervals over resamples of the centres,
    # except the exact ideal tori of 04; C3's Betti numbers say they have none (smoke's 3 checkpoints are too few for
    # C1 to measure anything)
    for c in (claims["C2"], claims["C4"], claims["C5"]):
        sampled = [r for r in c.rows if not r.name.startswith("ideal") or c.id == "C2"]
        assert all("95% intervals over" in r.measured for r in sampled), (c.id, [r.measured for r in sampled])
    assert all("no interval" in r.measured for r in claims["C3"].rows)
    epochs = lambda text: re.findall(r"(\w+): [-\d.]+", text)  # noqa: E731  "<epoch>: <PR>" per checkpoint
    rows = {r.name: r.measured for r in claims["C1"].rows}
    assert all(epochs(rows[name]) == epochs(claims["C1"].measured) for name in moving), rows
    report = (tmp_path / "REPORT.md").read_text()
    assert "| C4 |" in report and "#### C4:" in report and "04_fig3_torus_tests.png" in report
