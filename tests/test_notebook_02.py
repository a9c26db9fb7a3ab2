"""Notebook 02 trains a tiny torus model end to end under papermill and records its figures and claim."""

from __future__ import annotations

import nbformat
import pytest

from gdlib.claims import load_claims
from gdlib.paths import REPO

#: The smoke profile of notebook 02 (also in notebooks/profiles/smoke.yaml): N = 8, width 8, 8 steps.
SMOKE = dict(
    PROFILE="smoke", INTERACTIVE=False, N=8, D=1.0, WIDTH=8, HEADS=1, ATTENTION_RESOLUTIONS=[2, 4, 8], T=100,
    EPOCHS=2, BATCH_SIZE=16, WARMUP_STEPS=2, CHECKPOINT_EPOCHS=[0, 1, 2], EVAL_EPOCHS=[0, 2], SAMPLE_STEPS=3,
    SAMPLE_BATCH_SIZE=64, LOG_EVERY=2, N_SHOW=4,
)


def test_the_committed_parameters_cell_holds_the_quick_values():
    nb = nbformat.read(REPO / "notebooks" / "02_training.ipynb", as_version=4)
    params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1
    namespace: dict = {}
    exec(params[0].source, namespace)
    assert namespace["PROFILE"] == "quick" and namespace["OUTPUT_DIR"] == "../outputs"
    assert namespace["INTERACTIVE"] is True
    assert set(SMOKE) - {"PROFILE", "INTERACTIVE"} <= set(namespace)


@pytest.mark.slow
def test_notebook_02_runs_at_smoke_size_and_saves_its_figures_and_claim(tmp_path, monkeypatch):
    papermill = pytest.importorskip("papermill")
    monkeypatch.setenv("GDLIB_THREADS", "1")  # a tiny model: one thread beats two contended ones
    out = tmp_path / "outputs"
    papermill.execute_notebook(
        str(REPO / "notebooks" / "02_training.ipynb"), str(tmp_path / "02_training.ipynb"),
        parameters={**SMOKE, "OUTPUT_DIR": str(out)}, kernel_name="gdlib", cwd=str(REPO / "notebooks"),
        progress_bar=False,
    )
    figures = sorted(p.name for p in (out / "figures").glob("02_*.png"))
    assert figures == ["02_loss_accuracy.png", "02_samples.png", "02_samples_over_training.png"]
    claims, records = load_claims(out)
    t1 = {c.id: c for c in claims}["T1"]
    assert t1.verdict == "not decided" and t1.profile == "smoke" and "smoke" in t1.reason
    assert "strict joint" in t1.measured
    assert {r.name for r in t1.rows} == {"model", "blank", "untrained (epoch 0)", "nearest training image"}
    assert {f.file for f in records} == {f"figures/{name}" for name in figures}
    runs = list((out / "models" / "torus").glob("*/final.pt"))
    assert len(runs) == 1
    assert (runs[0].parent / "ckpt_epoch0000.pt").exists() and any(runs[0].parent.glob("eval_final_*.npz"))
