"""One setting of the benchmark timed: our training step (as :mod:`gdlib.training` takes it) against the
reference's, alternately step by step, then a sampling step of each; the FLOPs of one training step."""

from __future__ import annotations

import copy
import statistics
import time

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from gdlib import device as _device
from gdlib import diffusion
from gdlib.bench.reference import ReferenceTrainer
from gdlib.bench.settings import Setting
from gdlib.model import UNet


class OursTrainer:
    """One training step as gdlib.training does it."""

    def __init__(self, s: Setting, dev: torch.device, images_u8: torch.Tensor, labels: torch.Tensor):
        torch.manual_seed(0)
        self.model = _device.prepare_model(UNet(s.width, s.attention, s.heads), dev)
        self.ema = copy.deepcopy(self.model).requires_grad_(False)
        fused = _device.fused_adamw(s.width, dev)
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=1e-4, fused=fused, foreach=not fused)
        self.schedule = diffusion.linear_schedule()
        self.images, self.labels = images_u8.to(dev), labels.to(dev)
        self.gen = torch.Generator(device=dev).manual_seed(0)
        self.batch, self.dev, self.pos = s.batch, dev, 0
        self.perm = torch.randperm(len(self.images), device=dev, generator=self.gen)

    def step(self) -> None:
        if self.pos + self.batch > len(self.perm):
            self.perm, self.pos = torch.randperm(len(self.images), device=self.dev, generator=self.gen), 0
        idx = self.perm[self.pos:self.pos + self.batch]
        self.pos += self.batch
        x0 = self.images[idx].float().div_(127.5).sub_(1.0)
        loss = diffusion.loss(self.model, self.schedule, x0, self.labels[idx], self.gen)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        with torch.no_grad():
            torch._foreach_lerp_(list(self.ema.parameters()), list(self.model.parameters()), 0.005)


def _sampler_step(model: nn.Module, x: torch.Tensor, labels: torch.Tensor, autocast: bool | None,
                  t: int = 500) -> torch.Tensor:
    """One ancestral step's work: a network call and the update (constants do not matter for timing)."""
    tt = torch.full((x.shape[0],), t, device=x.device, dtype=torch.long)
    with _device.autocast(x.device, autocast, model):
        eps = model(x, tt, labels).float()
    return (x - 0.01 * eps) * 1.0001 + 0.01 * torch.randn_like(x)


def time_call(fn, dev: torch.device) -> float:
    """Seconds ``fn()`` takes, the device synchronised before and after."""
    _device.synchronize(dev)
    t0 = time.perf_counter()
    fn()
    _device.synchronize(dev)
    return time.perf_counter() - t0


def training_flops(model: nn.Module, n: int, batch: int, dev: torch.device) -> int:
    """FLOPs of one forward + backward pass on a batch (FlopCounterMode: convolutions, matmuls, SDPA)."""
    x = torch.randn(batch, 1, n, n, device=dev)
    t = torch.randint(0, 1000, (batch,), device=dev)
    labels = torch.rand(batch, 2, device=dev) * n
    with FlopCounterMode(display=False) as counter:
        model(x, t, labels).float().pow(2).mean().backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops()


def bench_setting(s: Setting, dev: torch.device, steps: int, warmup: int, sample_steps: int) -> dict:
    g = torch.Generator().manual_seed(0)
    m = max(4 * s.batch, 512)
    images = torch.randint(0, 256, (m, 1, s.n, s.n), generator=g, dtype=torch.uint8)
    labels = torch.rand(m, 2, generator=g) * s.n
    ours, ref = OursTrainer(s, dev, images, labels), ReferenceTrainer(s, dev, images, labels)
    times = {"ours": [], "ref": []}
    for i in range(warmup + steps):  # alternate, so both see the same background load
        for key, trainer in (("ref", ref), ("ours", ours)):
            dt = time_call(trainer.step, dev)
            if i >= warmup:
                times[key].append(dt)
    train = {k: s.batch / statistics.median(v) for k, v in times.items()}
    train_best = {k: s.batch / min(v) for k, v in times.items()}
    flops = training_flops(ours.model, s.n, s.batch, dev)

    x = torch.randn(s.sample_batch, 1, s.n, s.n, device=dev)
    lab = torch.rand(s.sample_batch, 2, device=dev) * s.n
    ours_m, ref_m = ours.ema.eval(), ref.ema.eval()
    stimes = {"ours": [], "ref": []}

    def ours_call():
        with torch.inference_mode():
            _sampler_step(ours_m, x, lab, autocast=None)

    def ref_call():
        with torch.no_grad():
            _sampler_step(ref_m, x, lab, autocast=False)

    for i in range(1 + sample_steps):
        for key, fn in (("ref", ref_call), ("ours", ours_call)):
            dt = time_call(fn, dev)
            if i >= 1:
                stimes[key].append(dt)
    sample = {k: s.sample_batch / statistics.median(v) for k, v in stimes.items()}
    sample_best = {k: s.sample_batch / min(v) for k, v in stimes.items()}
    step_time = statistics.median(times["ours"])
    peak = _device.peak_flops(dev)
    return {
        "setting": s, "train_ours": train["ours"], "train_ref": train["ref"],
        "sample_ours": sample["ours"], "sample_ref": sample["ref"], "flops_per_step": flops,
        "achieved": flops / step_time, "achieved_best": flops / min(times["ours"]), "peak": peak,
        "train_best": train_best, "sample_best": sample_best,
        "times": times, "sample_times": stimes,
    }
