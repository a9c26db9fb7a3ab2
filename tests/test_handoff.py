"""Notebooks 02-04 name the model by its config: 02 records the model it trained, 03 and 04 analyse that one."""

from __future__ import annotations

import os

import pytest

from gdlib.claims import load_claims
from gdlib.config import TrainConfig
from gdlib.datasets import DatasetConfig
from gdlib.handoff import record_path, record_trained, trained_by
from gdlib.runner import run_notebooks
from gdlib.runs import checkpoint_path
from gdlib.training import get_or_train

TINY = dict(data=DatasetConfig(family="bump", n=8, sigma=1.0, d=1.0, periodic=True), width=8, heads=1, T=100,
            epochs=1, batch_size=32, sampler="ddim", sample_steps=2, sample_batch_size=64)


def test_the_recorded_model_is_read_back_even_when_another_run_finished_later():
    first, second = TrainConfig(**TINY, seed=0), TrainConfig(**TINY, seed=1)
    get_or_train(first, "handoff", progress=False)
    record_trained(first, "handoff")
    later = checkpoint_path(second, "handoff", "final")  # another run of the name, finished after it
    later.parent.mkdir(parents=True)
    later.touch()
    assert trained_by("handoff") == first
    assert record_path("handoff").name == "trained_by_02.json"


def test_without_a_record_the_error_says_to_run_notebook_02():
    with pytest.raises(FileNotFoundError, match="run notebook 02 first"):
        trained_by("never-trained")
    record_trained(TrainConfig(**TINY, seed=5), "not-finished")
    with pytest.raises(FileNotFoundError, match="no final.pt"):
        trained_by("not-finished")


@pytest.mark.slow
def test_notebook_03_analyses_the_model_02_trained_last_not_the_newest_on_disk(tmp_path):
    run = lambda only, **overrides: [r.status for r in run_notebooks(
        profile="smoke", only=only, overrides=overrides, output_dir=tmp_path, progress_bar=False)]
    assert run("02") == ["ok"]
    (seed0,) = (tmp_path / "models" / "torus-smoke").glob("*/final.pt")
    assert run("02", SEED=1) == ["ok"]
    os.utime(seed0, (seed0.stat().st_atime, seed0.stat().st_mtime + 3600))  # the SEED 0 model looks newest
    assert run("03") == ["ok"]
    claims = {c.id: c for c in load_claims(tmp_path)[0] if c.notebook == "03_representation"}
    assert claims["C1"].scale.endswith("seed 1") and "seed 1" in claims["C2"].scale
