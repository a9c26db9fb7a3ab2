"""The benchmark's levers change how fast the sweeps' step runs, not what it computes (issue 21: "without changing
what a seed trains"): from the same seed, every lever of the same batch size draws the same batches, t and noise, and
its losses agree with the others' within its precision's rounding."""

from __future__ import annotations

import torch

from gdlib.bench.levers import Lever, LeverTrainer, bench_levers
from gdlib.bench.settings import SETTINGS


def _losses(lever: Lever, steps: int = 3) -> torch.Tensor:
    s = SETTINGS["sweep"](8, 8)
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (64, 1, s.n, s.n), generator=g, dtype=torch.uint8)
    trainer = LeverTrainer(s, lever, images, torch.rand(64, 2, generator=g) * s.n)
    return torch.stack([trainer.step() for _ in range(steps)])


def test_every_lever_of_the_same_batch_size_trains_the_same_model_within_its_precision():
    base = _losses(Lever("fp32, channels_last, fused", False))
    # fp32: another layout or optimiser kernel sums in another order, about 1e-6 relative (see test_diffusion's
    # batch-size test); 1e-4 leaves 100x over three steps, while a step on another batch differs by O(10%)
    for lever in (Lever("contiguous", False, channels_last=False), Lever("for-each", False, fused=False)):
        assert torch.allclose(_losses(lever), base, rtol=1e-4), lever
    # bf16 autocast rounds every layer's output to 2^-8: the loss, a mean of squares of O(1) values, moves by a few
    # of those units; 8 x 2^-8 = 3%
    assert torch.allclose(_losses(Lever("bf16", True)), base, rtol=8 * 2.0**-8)
    assert not torch.allclose(_losses(Lever("batch x2", False, batch_factor=2)), base, rtol=1e-4)


def test_the_levers_table_rates_every_lever_against_the_first_the_step_before_issue_21():
    rows = bench_levers(SETTINGS["sweep"](8, 8), steps=1, warmup=0)
    assert rows[0]["lever"].startswith("before issue 21") and rows[0]["ratio"] == 1.0
    assert all(r["ratio"] == r["images_per_s"] / rows[0]["images_per_s"] for r in rows)
