"""Levers on the training step at the sweeps' setting, each timed against the step as it was before issue 21.

The sweeps' model (N = 16, width 8, batch 64, one thread per process) is overhead-bound: per-operator costs, not
arithmetic, set its pace, so the choices that help the paper's architecture (bf16 autocast, channels_last) may not
help here. Each lever is one :class:`LeverTrainer` variant; every variant and the baseline take one step in turn
(round robin), so a machine shared with other jobs slows them alike, and the ratio of medians is reported.
"""

from __future__ import annotations

import copy
import statistics
from dataclasses import dataclass

import torch

from gdlib import device as _device
from gdlib import diffusion
from gdlib.bench.setting import time_call
from gdlib.bench.settings import Setting
from gdlib.model import UNet


@dataclass(frozen=True)
class Lever:
    """One way to run the training step: precision, memory layout, optimiser kernel, batch size factor."""

    name: str
    bf16: bool
    channels_last: bool = True
    fused: bool = True
    batch_factor: int = 1


def levers(cpu_has_bf16: bool) -> list[Lever]:
    """The baseline first (the step as gdlib trained it before issue 21: bf16 autocast wherever the CPU has bf16,
    channels_last, fused AdamW), then the variants."""
    out = [Lever("before issue 21 (bf16 where the CPU has it, channels_last, fused AdamW)", cpu_has_bf16),
           Lever("fp32, channels_last, fused AdamW", False),
           Lever("fp32, contiguous, fused AdamW", False, channels_last=False),
           Lever("fp32, channels_last, for-each AdamW", False, fused=False),
           Lever("fp32, channels_last, batch x2 (same images seen)", False, batch_factor=2)]
    if cpu_has_bf16:
        out[2:2] = [Lever("bf16, contiguous, fused AdamW", True, channels_last=False),
                    Lever("bf16, channels_last, for-each AdamW", True, fused=False)]
    return out


class LeverTrainer:
    """gdlib.training's step (Ho et al. Algorithm 1, AdamW, EMA), run the way ``lever`` says."""

    def __init__(self, s: Setting, lever: Lever, images_u8: torch.Tensor, labels: torch.Tensor):
        torch.manual_seed(0)
        fmt = torch.channels_last if lever.channels_last else torch.contiguous_format
        self.model = UNet(s.width, s.attention, s.heads).to(memory_format=fmt)
        self.ema = copy.deepcopy(self.model).requires_grad_(False)
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=1e-4, fused=lever.fused, foreach=not lever.fused)
        self.schedule = diffusion.linear_schedule()
        self.images, self.labels, self.lever = images_u8, labels, lever
        self.gen = torch.Generator().manual_seed(0)
        self.batch = s.batch * lever.batch_factor

    def step(self) -> torch.Tensor:
        """One optimiser step; the loss (no host synchronisation: a tensor)."""
        idx = torch.randint(0, len(self.images), (self.batch,), generator=self.gen)
        x0 = self.images[idx].float().div_(127.5).sub_(1.0)
        loss = diffusion.loss(self.model, self.schedule, x0, self.labels[idx], self.gen, autocast=self.lever.bf16)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        with torch.no_grad():
            torch._foreach_lerp_(list(self.ema.parameters()), list(self.model.parameters()), 0.005)
        return loss.detach()


def bench_levers(s: Setting, steps: int, warmup: int) -> list[dict]:
    """Training images/s of every lever, round robin on the CPU; each row's ratio is to the first (the baseline)."""
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (1024, 1, s.n, s.n), generator=g, dtype=torch.uint8)
    labels = torch.rand(1024, 2, generator=g) * s.n
    trainers = [LeverTrainer(s, lever, images, labels) for lever in levers(_device.bf16_supported("cpu"))]
    times: list[list[float]] = [[] for _ in trainers]
    for i in range(warmup + steps):
        for trainer, kept in zip(trainers, times):
            dt = time_call(trainer.step, torch.device("cpu"))
            if i >= warmup:
                kept.append(dt)
    rates = [t.batch / statistics.median(kept) for t, kept in zip(trainers, times)]
    return [{"lever": t.lever.name, "images_per_s": r, "ratio": r / rates[0]} for t, r in zip(trainers, rates)]
