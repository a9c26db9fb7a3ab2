"""A longer constant-schedule run continues a shorter finished one and ends with exactly the weights it reaches
alone (gdlib.continuation); anything else trains from step 0."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from gdlib import device
from gdlib.config import TrainConfig
from gdlib.continuation import end_state_path, shorter_version
from gdlib.datasets import DatasetConfig
from gdlib.paths import CorruptFileWarning
from gdlib.runs import checkpoint_path, final_state, load_metrics, run_dir, step_point
from gdlib.training import get_or_train

device.setup(threads=1)

TINY_DATA = DatasetConfig(family="bump", n=8, sigma=1.0, d=1.0, periodic=True)  # 64 images: 4 batches of 16


def run(steps: int, checkpoint_steps: tuple[int, ...] = (), **kw) -> TrainConfig:
    """A tiny constant-schedule run (warm-up and EMA on, as in the notebooks) with epoch checkpoints 0, 1, 2."""
    base = dict(data=TINY_DATA, width=8, heads=1, T=100, steps=steps, batch_size=16, lr=1e-3, warmup_steps=3,
                lr_schedule="constant", ema_decay=0.9, checkpoint_epochs=(0, 1, 2), checkpoint_steps=checkpoint_steps,
                sampler="ddim", sample_steps=3, log_every=2)
    base.update(kw)
    return TrainConfig(**base)


def train_from(cfg: TrainConfig, name: str) -> int:
    """Train ``cfg`` under ``name``; the first optimiser step this call took (1 = from scratch)."""
    seen: list[int] = []
    get_or_train(cfg, name, progress=False, on_step=lambda step, _loss: seen.append(step))
    return seen[0]


def same_file_weights(a, b) -> bool:
    sa, sb = (torch.load(p, weights_only=False)["model"] for p in (a, b))
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_each_longer_run_continues_the_longest_shorter_one_to_the_weights_it_reaches_alone():
    # 3 -> 6 -> 12 steps; 6 and 3 are not whole epochs, so the batch order continues mid-epoch
    three, six, twelve = run(3), run(6, (3,)), run(12, (3, 6))
    assert train_from(three, "cont_grow") == 1
    assert train_from(six, "cont_grow") == 4
    assert train_from(twelve, "cont_grow") == 7  # from the 6-step run, the longest shorter one
    assert train_from(twelve, "cont_alone") == 1
    a, b = final_state(twelve, "cont_grow"), final_state(twelve, "cont_alone")
    assert all(torch.equal(a[k], b[k]) for k in a)  # the EMA weights, bit for bit
    ends = [torch.load(end_state_path(twelve, n), weights_only=False) for n in ("cont_grow", "cont_alone")]
    for part in ("model", "ema"):
        assert all(torch.equal(ends[0][part][k], ends[1][part][k]) for k in ends[0][part])
    # the learning curve's checkpoints (copied from the shorter runs) and the epoch checkpoints that ended by then
    for point in [step_point(3), step_point(6), 0, 1, 2]:
        grown, alone = (checkpoint_path(twelve, n, point) for n in ("cont_grow", "cont_alone"))
        assert same_file_weights(grown, alone)
    # epoch 2 ends at step 8: the 6-step run saved a cut-short epoch 2, which the 12-step run does not take
    assert not same_file_weights(checkpoint_path(six, "cont_grow", 2), checkpoint_path(twelve, "cont_alone", 2))
    # the metrics too: the shorter runs' end-of-run rows (a cut-short epoch, the final evaluation) are not carried
    rows = [load_metrics(twelve, n) for n in ("cont_grow", "cont_alone")]
    assert rows[0].keys() == rows[1].keys()
    for column in set(rows[0]) - {"wall_s"}:
        assert np.array_equal(rows[0][column], rows[1][column], equal_nan=True), column


def test_a_run_ending_on_an_epoch_boundary_hands_on_that_epochs_checkpoint():
    four, twelve = run(4), run(12, (4,))  # 4 steps = epoch 1 exactly
    train_from(four, "cont_epoch")
    assert train_from(twelve, "cont_epoch") == 5
    train_from(twelve, "cont_epoch_alone")
    for point in [step_point(4), 0, 1, 2]:
        grown, alone = (checkpoint_path(twelve, n, point) for n in ("cont_epoch", "cont_epoch_alone"))
        assert same_file_weights(grown, alone)


def test_a_cosine_run_keeps_no_end_state_and_is_never_continued():
    short, long = run(6, lr_schedule="cosine"), run(12, (6,), lr_schedule="cosine")
    assert train_from(short, "cont_cosine") == 1
    assert not end_state_path(short, "cont_cosine").exists()
    assert not shorter_version(long, short)  # its lr depends on the total, so its first steps differ
    assert train_from(long, "cont_cosine") == 1


@pytest.mark.parametrize("change", [
    {"lr": 2e-3}, {"seed": 1}, {"batch_size": 8}, {"steps": 12}, {"steps": 14}, {"ema_decay": 0.0},
    {"log_every": 1}, {"eval_epochs": (1,)}, {"sampler": "ddpm"},  # they shaped the metrics rows it would carry
    {"checkpoint_steps": ()},  # the longer run's curve point at step 3 would be missing
    {"steps": 0, "epochs": 1, "checkpoint_epochs": ()},  # trained by epochs
])
def test_only_a_run_that_differs_in_its_steps_and_saved_every_earlier_curve_point_is_continued(change):
    long = run(12, (3, 6))
    fields = {"steps": 6, "checkpoint_steps": (3,), **change}
    if fields["steps"] == 0:
        fields["checkpoint_steps"] = ()
    assert shorter_version(long, run(6, (3,)))
    assert not shorter_version(long, dataclasses.replace(run(6, (3,)), **fields))


def test_only_the_sampling_batch_may_differ_besides_the_steps():
    assert shorter_version(run(12, (3, 6)), run(6, (3,), sample_batch_size=7))


@pytest.mark.parametrize("damage", ["end.pt truncated", "curve checkpoint missing", "curve checkpoint truncated"])
def test_a_shorter_run_with_a_damaged_file_is_passed_over_for_the_next_and_left_as_it_is(damage):
    name = "cont_damaged_" + damage.replace(" ", "_").replace(".", "")
    three, six, twelve = run(3), run(6, (3,)), run(12, (3, 6))
    train_from(three, name)
    train_from(six, name)
    path = end_state_path(six, name) if damage.startswith("end") else checkpoint_path(six, name, step_point(3))
    if damage.endswith("missing"):
        path.unlink()
    else:
        path.write_bytes(path.read_bytes()[:100])
    before = sorted(p.name for p in run_dir(six, name).iterdir())
    with pytest.warns(CorruptFileWarning, match="6-step run .* cannot be continued"):
        assert train_from(twelve, name) == 4  # from the 3-step run
    assert sorted(p.name for p in run_dir(six, name).iterdir()) == before
    get_or_train(twelve, "cont_alone", progress=False)  # trained once in the first test
    a, b = final_state(twelve, name), final_state(twelve, "cont_alone")
    assert all(torch.equal(a[k], b[k]) for k in a)
