"""The training side of the percolation experiment (Sec. 3.3, App. D.2): sweep configs, losses, claims, widths.

The simulation itself is tested in tests/test_percolation.py.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from gdlib.datasets import training_labels
from gdlib.images import render
from gdlib.percolation import PercolationResult
from gdlib.percolation_experiment import (
    PAPER_LAMBDAS,
    SweepTable,
    batch_counts,
    bump_width,
    diffusion_loss,
    first_crossing,
    lattice_data,
    learning_claim,
    loss_timesteps,
    percolation_claim,
    percolation_onsets,
    seen_mask,
    single_points,
    sweep_configs,
)
from gdlib.training import TrainConfig, get_or_train

TINY = dict(width=8, heads=1, attention_resolutions=(), enc_dim=16, T=100, batch_size=16, lr=2e-3,
            warmup_steps=5, lr_schedule="constant", sampler="ddim", sample_steps=2, log_every=10)


def _base(n: int = 8, epochs: int = 3, sigma: float = 1.0, batch_size: int = 16) -> TrainConfig:
    return TrainConfig(data=lattice_data(n, sigma), **{**TINY, "batch_size": batch_size}, epochs=epochs)


# the sweep ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("batch_size", [7, 16, 64])
def test_every_lambda_sees_the_reference_batches_within_one_epoch(batch_size):
    base = _base(n=16, epochs=5, batch_size=batch_size)
    configs = sweep_configs(base, [0.1, 1.0], PAPER_LAMBDAS)
    reference = 5 * math.ceil(256 / batch_size)  # 5 epochs of the full 16 x 16 lattice
    for key, steps in batch_counts(configs).items():
        per_epoch = configs[key].steps_per_epoch(len(training_labels(configs[key].data)))
        assert reference <= steps < reference + per_epoch, key
    assert batch_counts(configs)[(0.1, 1.0)] == reference  # the reference itself is unchanged


def test_nested_subsets_are_identical_across_sigma_and_grow_with_lambda():
    configs = sweep_configs(_base(n=16), [0.1, 0.3, 1.0], PAPER_LAMBDAS)
    previous: set = set()
    for lam in PAPER_LAMBDAS:
        centres = [{tuple(c) for c in training_labels(configs[(s, lam)].data)} for s in (0.1, 0.3, 1.0)]
        assert centres[0] == centres[1] == centres[2]
        assert len(centres[0]) == round(lam * 256)
        assert previous <= centres[0]
        previous = centres[0]
    # the centres are the integer lattice 1..N, the evaluation grid
    full = training_labels(configs[(1.0, 1.0)].data)
    assert full.min() == 1 and full.max() == 16 and np.all(full == np.rint(full))


def test_only_sigma_and_lambda_differ_between_configs():
    configs = sweep_configs(_base(), [0.1, 1.0], [0.5])
    a, b = configs[(0.1, 0.5)], configs[(1.0, 0.5)]
    assert replace(a, data=b.data) == b
    assert a.data.sigma == (0.1, 0.1) and b.data.sigma == (1.0, 1.0)


def test_seen_mask_marks_exactly_the_training_centres():
    cfg = sweep_configs(_base(), [1.0], [0.25])[(1.0, 0.25)]
    grid = lattice_data(8, 1.0)
    labels = training_labels(grid)
    seen = seen_mask(cfg, labels)
    assert seen.sum() == 16
    assert {tuple(c) for c in labels[seen]} == {tuple(c) for c in training_labels(cfg.data)}


# the losses ---------------------------------------------------------------------------------------
def test_loss_timesteps_are_stratum_midpoints():
    assert loss_timesteps(1000, 4).tolist() == [125, 375, 625, 875]
    assert loss_timesteps(100, 1).tolist() == [50]


def _untrained(cfg: TrainConfig) -> torch.nn.Module:
    torch.manual_seed(0)
    return cfg.make_model().eval()


def test_the_loss_is_deterministic_and_empty_heldout_is_nan():
    cfg = sweep_configs(_base(), [1.0], [1.0])[(1.0, 1.0)]
    model = _untrained(cfg)
    first = diffusion_loss(model, cfg, "train", timesteps=3, seed=4)
    assert diffusion_loss(model, cfg, "train", timesteps=3, seed=4) == first
    assert diffusion_loss(model, cfg, "train", timesteps=3, seed=5) != first
    assert math.isnan(diffusion_loss(model, cfg, "heldout", timesteps=3, seed=4))


def test_train_and_heldout_losses_use_the_same_draws_per_site():
    # the same model on a split lattice: the two parts' losses average to the full lattice's loss
    configs = sweep_configs(_base(), [1.0], [0.375, 1.0])
    half, full = configs[(1.0, 0.375)], configs[(1.0, 1.0)]
    model = _untrained(half)
    train = diffusion_loss(model, half, "train", timesteps=2, seed=1, batch_size=10)
    held = diffusion_loss(model, half, "heldout", timesteps=2, seed=1, batch_size=7)
    whole = diffusion_loss(model, full, "train", timesteps=2, seed=1)
    assert (24 * train + 40 * held) / 64 == pytest.approx(whole, rel=1e-5)


@pytest.mark.slow
def test_a_trained_tiny_model_has_a_lower_loss_than_an_untrained_one():
    cfg = sweep_configs(_base(epochs=20), [1.0], [1.0])[(1.0, 1.0)]  # 80 steps of batch 16
    trained = get_or_train(cfg, "test_percolation_loss", progress=False)
    before = diffusion_loss(_untrained(cfg), cfg, "train", timesteps=5)
    after = diffusion_loss(trained, cfg, "train", timesteps=5)
    assert after < 0.7 * before


# claims -------------------------------------------------------------------------------------------
def test_first_crossing_is_the_first_lambda_above_the_level():
    lambdas = [0.1, 0.2, 0.3]
    assert first_crossing(lambdas, [0.1, 0.5, 0.9], 0.5) == 0.3
    assert first_crossing(lambdas, [0.1, 0.5, 0.9], 0.5, inclusive=True) == 0.2
    assert first_crossing(lambdas, [0.1, 0.2, 0.3], 0.5) == math.inf


def _result(mean: np.ndarray, std: np.ndarray | None = None, sigmas=(0.1, 0.5, 1.0), thresholds=(0.005, 0.05),
            lambdas=(0.25, 0.5, 1.0)) -> PercolationResult:
    return PercolationResult(tuple(thresholds), tuple(sigmas), tuple(lambdas), mean,
                             np.zeros_like(mean) if std is None else std)


def _single(lambdas=(0.25, 0.5, 1.0), n=4):
    return [1.0 / round(lam * n * n) for lam in lambdas]


def test_a_percolation_picture_like_the_papers_satisfies_c11():
    lone = _single()
    mean = np.array([[lone, [0.2, 0.9, 1.0], [0.9, 1.0, 1.0]],
                     [lone, [0.1, 0.3, 0.9], [0.6, 1.0, 1.0]]])
    result = _result(mean)
    assert percolation_onsets(result).tolist() == [[math.inf, 0.5, 0.25], [math.inf, 1.0, 0.25]]
    assert single_points(result, 0.005, 0.1, n=4)
    assert percolation_claim(result, 0.005, n=4).holds


def test_c11_fails_when_a_wider_bump_percolates_later_or_the_small_one_connects():
    lone = _single()
    backwards = _result(np.array([[lone, [0.9, 1.0, 1.0], [0.2, 0.9, 1.0]],
                                  [lone, [0.6, 1.0, 1.0], [0.1, 0.3, 0.9]]]))
    assert not percolation_claim(backwards, 0.005, n=4).holds
    connected = _result(np.array([[[0.5, 0.2, 0.1], [0.2, 0.9, 1.0], [0.9, 1.0, 1.0]],
                                  [lone, [0.1, 0.3, 0.9], [0.6, 1.0, 1.0]]]))
    assert not single_points(connected, 0.005, 0.1, n=4)
    assert not percolation_claim(connected, 0.005, n=4).holds
    flat = _result(np.ones((2, 3, 3)), sigmas=(0.1, 0.5, 1.0))  # no sigma dependence at all
    assert not percolation_claim(flat, 0.005, n=4).holds


def _table(acc: list[list[float]], sigmas=(0.1, 0.3, 1.0), lambdas=(0.2, 0.6, 1.0)) -> SweepTable:
    return SweepTable(tuple(sigmas), tuple(lambdas), 0.005, {"accuracy": np.array(acc)})


def test_c12_holds_for_accuracy_rising_earlier_with_sigma_and_sigma_01_late():
    table = _table([[0.0, 0.1, 0.7], [0.1, 0.6, 0.8], [0.5, 0.9, 0.95]])
    assert learning_claim(table, level=0.5, small_sigma=0.1, large_lambda=0.8).holds


def test_c12_fails_when_sigma_01_is_never_learnt_or_learnt_early():
    never = _table([[0.0, 0.1, 0.2], [0.1, 0.6, 0.8], [0.5, 0.9, 0.95]])
    assert not learning_claim(never, 0.5, 0.1, 0.8).holds
    early = _table([[0.6, 0.7, 0.8], [0.1, 0.6, 0.8], [0.5, 0.9, 0.95]])
    assert not learning_claim(early, 0.5, 0.1, 0.8).holds


def test_sweep_table_rows_and_markdown_have_one_line_per_model():
    keys = ("n_train", "steps", "accuracy", "accuracy_seen", "accuracy_unseen", "train_loss", "val_loss",
            "mass_ratio", "wall_s")
    table = SweepTable((0.1, 1.0), (0.5, 1.0), 0.005, {k: np.full((2, 2), 0.5) for k in keys})
    assert len(table.rows()) == 4 and table.rows()[1]["lambda"] == 1.0
    assert table.to_markdown().count("\n") == 2 + 4 - 1
    assert table.accuracy.shape == (2, 2)


# widths (Fig. 6d) ---------------------------------------------------------------------------------
def test_a_sigma_01_bump_is_one_pixel_and_a_sigma_1_bump_is_nine():
    thin = bump_width(render("bump", [8.0], [8.0], 16, 0.1, 0.1)[0])
    assert thin.half_max_pixels == 1 and thin.sigma == 0.0 and thin.peak == 1.0
    wide = bump_width(render("bump", [8.0], [8.0], 16, 1.0, 1.0)[0])
    assert wide.half_max_pixels == 9  # darkness >= 1/2 within r^2 <= 4 ln 2
    assert wide.sigma == pytest.approx(1.0, abs=0.15)
    wider = bump_width(render("bump", [8.0], [8.0], 16, 1.5, 1.5)[0], window=5)
    assert wider.sigma > wide.sigma


def test_a_white_image_has_no_width():
    blank = bump_width(np.full((8, 8), 255, dtype=np.uint8))
    assert blank.half_max_pixels == 0 and math.isnan(blank.sigma)
