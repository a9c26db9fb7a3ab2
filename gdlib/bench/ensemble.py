"""K models of one architecture trained as one vmapped network, timed against the plain reference."""

from __future__ import annotations

import copy
import statistics

import torch

from gdlib import device as _device
from gdlib import diffusion
from gdlib.bench.reference import ReferenceTrainer
from gdlib.bench.setting import time_call
from gdlib.bench.settings import Setting
from gdlib.model import SelfAttention, UNet


class EnsembleTrainer:
    """K models of one architecture trained as one batched network: parameters stacked along a new leading
    axis (``torch.func.stack_module_state``), the loss of every model on its own batch computed by
    ``torch.func.vmap`` over ``functional_call``, one fused AdamW step over the stacked tensors (AdamW is
    elementwise, so this is K independent optimisers) and one EMA update. vmap does not support channels_last,
    so the activations stay contiguous NCHW; attention is written as explicit matrix products, which vmap
    batches (it has no batching rule for SDPA's CPU kernel and would loop over the K models)."""

    def __init__(self, s: Setting, dev: torch.device, images_u8: torch.Tensor, labels: torch.Tensor, k: int):
        from torch.func import functional_call, stack_module_state, vmap

        torch.manual_seed(0)
        models = [UNet(s.width, s.attention, s.heads).to(dev) for _ in range(k)]
        self.params, self.buffers = stack_module_state(models)
        for p in self.params.values():
            p.requires_grad_(True)
        self.ema = {name: p.detach().clone() for name, p in self.params.items()}
        self.opt = torch.optim.AdamW(list(self.params.values()), lr=1e-4, fused=dev.type in ("cpu", "cuda"))
        base = copy.deepcopy(models[0]).to("meta")
        for m in base.modules():
            if isinstance(m, SelfAttention):
                m.explicit = True  # vmap batches matrix products; SDPA's CPU kernel it would run K times
        schedule = diffusion.linear_schedule()

        def one_loss(params, buffers, x0, t, lab, noise):
            x_t = diffusion.q_sample(schedule, x0, t, noise)
            with _device.autocast(dev):
                pred = functional_call(base, (params, buffers), (x_t, t, lab))
            return torch.mean((pred.float() - noise) ** 2)

        self.loss = vmap(one_loss)
        self.images, self.labels = images_u8.to(dev), labels.to(dev)
        self.gen = torch.Generator(device=dev).manual_seed(0)
        self.k, self.batch, self.dev, self.T = k, s.batch, dev, schedule.T

    def step(self) -> None:
        """One optimiser step of every model on a batch of its own."""
        self.update(*self.draw())

    def draw(self) -> tuple[torch.Tensor, ...]:
        """x_0, t, labels and eps for every model: (K, B, ...) each, model k's own batch in row k."""
        k, b, dev = self.k, self.batch, self.dev
        idx = torch.randint(0, len(self.images), (k, b), device=dev, generator=self.gen)
        x0 = self.images[idx].float().div_(127.5).sub_(1.0)  # (K, B, 1, N, N)
        t = torch.randint(0, self.T, (k, b), device=dev, generator=self.gen)
        noise = torch.randn(x0.shape, device=dev, generator=self.gen)
        return x0, t, self.labels[idx], noise

    def update(self, x0: torch.Tensor, t: torch.Tensor, labels: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """The K losses of Ho et al. Algorithm 1 on the given batches, their gradients (the sum's gradient is
        each model's own, as no parameter is shared), one AdamW step and the EMA update; returns the losses."""
        losses = self.loss(self.params, self.buffers, x0, t, labels, noise)
        self.opt.zero_grad(set_to_none=False)
        losses.sum().backward()
        self.opt.step()
        with torch.no_grad():
            torch._foreach_lerp_(list(self.ema.values()), [p.detach() for p in self.params.values()], 0.005)
        return losses.detach()


def bench_ensembles(s: Setting, dev: torch.device, ks: tuple[int, ...], steps: int, warmup: int) -> dict:
    """Training images per second per model for ensembles of ``ks`` models, each K timed step by step
    alternately with the plain reference single model, so that a shared machine slows both alike."""
    g = torch.Generator().manual_seed(0)
    m = max(4 * s.batch, 512)
    images = torch.randint(0, 256, (m, 1, s.n, s.n), generator=g, dtype=torch.uint8)
    labels = torch.rand(m, 2, generator=g) * s.n
    ref = ReferenceTrainer(s, dev, images, labels)
    out = {}
    for k in ks:
        ens = EnsembleTrainer(s, dev, images, labels, k)
        times = {"ens": [], "ref": []}
        for i in range(warmup + steps):
            for key, trainer in (("ref", ref), ("ens", ens)):
                dt = time_call(trainer.step, dev)
                if i >= warmup:
                    times[key].append(dt)
        per_model = s.batch * k / statistics.median(times["ens"]) / k
        out[k] = {"per_model": per_model, "total": per_model * k,
                  "ref": s.batch / statistics.median(times["ref"])}
        del ens
    return out
