"""Speed benchmark, not a test: ``python -m gdlib.bench [--paper-batch 16] [--steps 3] [--only paper]``.

For two settings, the paper's architecture (N = 32, width 64, attention at every resolution, 4 heads)
and the ``quick`` profile's (N = 16, width 16, no attention at full resolution, 1 head), it measures

- training images/s of our step (data as one uint8 tensor on the device, indexed batches, SDPA
  attention, channels_last, fused AdamW + EMA, bf16 autocast where :mod:`gdlib.device` enables it),
- sampling image-steps/s (one network call plus the DDPM update per step, under inference_mode),

next to a reference written the plain way (dome272's Diffusion-Models-pytorch: ``nn.MultiheadAttention``
returning its weights, fp32, contiguous NCHW, for-each AdamW + EMA, a ``DataLoader`` over a
``TensorDataset`` of float images, ``torch.no_grad`` sampling; the convolutions are the same modules),
with the two measured alternately step by step in the same run, so that a machine shared with other
jobs slows both alike. It prints the ratio, the FLOPs of one training step
(``torch.utils.flop_counter.FlopCounterMode``) and the achieved FLOP/s against the device's peak
(:func:`gdlib.device.peak_flops`, a rough figure). Times are medians of the timed steps.

The paper-architecture reference step takes seconds per batch of 16 on a 2-core CPU: the default
batch is therefore small (16) and only a few steps are timed; use ``--paper-batch 64 --steps 10`` on a GPU.
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import time
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.flop_counter import FlopCounterMode

from gdlib import device as _device
from gdlib import diffusion
from gdlib.model import UNet


class ReferenceSelfAttention(nn.Module):
    """dome272's SelfAttention as written: nn.MultiheadAttention, attention weights returned."""

    def __init__(self, channels: int, heads: int = 4):
        super().__init__()
        self.channels = channels
        self.mha = nn.MultiheadAttention(channels, heads, batch_first=True)
        self.ln = nn.LayerNorm([channels])
        self.ff_self = nn.Sequential(nn.LayerNorm([channels]), nn.Linear(channels, channels), nn.GELU(),
                                     nn.Linear(channels, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        x = x.view(b, c, h * w).swapaxes(1, 2)
        x_ln = self.ln(x)
        attention_value, _ = self.mha(x_ln, x_ln, x_ln)
        attention_value = attention_value + x
        attention_value = self.ff_self(attention_value) + attention_value
        return attention_value.swapaxes(2, 1).reshape(b, c, h, w)


def reference_unet(width: int, attention_resolutions, heads: int) -> UNet:
    """Our UNet with every attention site swapped for the dome272 module (same convolutions)."""
    model = UNet(width=width, attention_resolutions=attention_resolutions, heads=heads)
    for name, child in list(model.named_children()):
        if name.startswith("sa") and not isinstance(child, nn.Identity):
            setattr(model, name, ReferenceSelfAttention(child.channels, heads))
    return model


@dataclass(frozen=True)
class Setting:
    name: str
    n: int
    width: int
    attention: tuple[int, ...]
    heads: int
    batch: int
    sample_batch: int


def _ema_update(ema: nn.Module, model: nn.Module, decay: float = 0.995) -> None:
    with torch.no_grad():
        for e, p in zip(ema.parameters(), model.parameters(), strict=True):
            e.mul_(decay).add_(p, alpha=1 - decay)


class OursTrainer:
    """One training step as gdlib.training does it."""

    def __init__(self, s: Setting, dev: torch.device, images_u8: torch.Tensor, labels: torch.Tensor):
        torch.manual_seed(0)
        self.model = _device.prepare_model(UNet(s.width, s.attention, s.heads), dev)
        self.ema = copy.deepcopy(self.model).requires_grad_(False)
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=1e-4, fused=dev.type in ("cpu", "cuda"))
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


class ReferenceTrainer:
    """dome272's training step: DataLoader over a TensorDataset of float images, fp32, MHA with weights."""

    def __init__(self, s: Setting, dev: torch.device, images_u8: torch.Tensor, labels: torch.Tensor):
        torch.manual_seed(0)
        self.model = reference_unet(s.width, s.attention, s.heads).to(dev)
        self.ema = copy.deepcopy(self.model).requires_grad_(False)
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=1e-4)
        self.mse = nn.MSELoss()
        self.dev, self.T = dev, 1000
        beta = torch.linspace(1e-4, 0.02, self.T)
        self.alpha_hat = torch.cumprod(1.0 - beta, dim=0).to(dev)
        data = TensorDataset(images_u8.float() / 127.5 - 1.0, labels)
        self.loader = DataLoader(data, batch_size=s.batch, shuffle=True, drop_last=True)
        self.it = iter(self.loader)

    def step(self) -> None:
        try:
            images, labels = next(self.it)
        except StopIteration:
            self.it = iter(self.loader)
            images, labels = next(self.it)
        images, labels = images.to(self.dev), labels.to(self.dev)
        t = torch.randint(low=1, high=self.T, size=(images.shape[0],), device=self.dev)
        a = self.alpha_hat[t][:, None, None, None]
        noise = torch.randn_like(images)
        x_t = a.sqrt() * images + (1 - a).sqrt() * noise
        loss = self.mse(noise, self.model(x_t, t, labels))
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        _ema_update(self.ema, self.model)


class EnsembleTrainer:
    """K models of one architecture trained as one batched network: parameters stacked along a new leading
    axis (``torch.func.stack_module_state``), the loss of every model on its own batch computed by
    ``torch.func.vmap`` over ``functional_call``, one fused AdamW step over the stacked tensors (AdamW is
    elementwise, so this is K independent optimisers) and one EMA update. vmap does not support channels_last,
    so the activations stay contiguous NCHW."""

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
        k, b, dev = self.k, self.batch, self.dev
        idx = torch.randint(0, len(self.images), (k, b), device=dev, generator=self.gen)
        x0 = self.images[idx].float().div_(127.5).sub_(1.0)  # (K, B, 1, N, N): each model its own batch
        t = torch.randint(0, self.T, (k, b), device=dev, generator=self.gen)
        noise = torch.randn(x0.shape, device=dev, generator=self.gen)
        loss = self.loss(self.params, self.buffers, x0, t, self.labels[idx], noise).sum()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        with torch.no_grad():
            torch._foreach_lerp_(list(self.ema.values()), [p.detach() for p in self.params.values()], 0.005)


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
                dt = _time(trainer.step, dev)
                if i >= warmup:
                    times[key].append(dt)
        per_model = s.batch * k / statistics.median(times["ens"]) / k
        out[k] = {"per_model": per_model, "total": per_model * k,
                  "ref": s.batch / statistics.median(times["ref"])}
        del ens
    return out


def _sampler_step(model: nn.Module, x: torch.Tensor, labels: torch.Tensor, autocast: bool | None,
                  t: int = 500) -> torch.Tensor:
    """One ancestral step's work: a network call and the update (constants do not matter for timing)."""
    tt = torch.full((x.shape[0],), t, device=x.device, dtype=torch.long)
    with _device.autocast(x.device, autocast):
        eps = model(x, tt, labels).float()
    return (x - 0.01 * eps) * 1.0001 + 0.01 * torch.randn_like(x)


def _time(fn, dev: torch.device) -> float:
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
            dt = _time(trainer.step, dev)
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
            dt = _time(fn, dev)
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


SETTINGS = {
    "paper": lambda b, sb: Setting("paper (N=32, width 64, attention everywhere, 4 heads)",
                                   32, 64, (1, 2, 4, 8), 4, b, sb),
    "quick": lambda b, sb: Setting("quick (N=16, width 16, no full-res attention, 1 head)",
                                   16, 16, (2, 4, 8), 1, b, sb),
}


def main(argv: list[str] | None = None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", choices=sorted(SETTINGS), action="append", help="run one setting (repeatable)")
    p.add_argument("--paper-batch", type=int, default=16)
    p.add_argument("--paper-sample-batch", type=int, default=16)
    p.add_argument("--quick-batch", type=int, default=128)
    p.add_argument("--quick-sample-batch", type=int, default=256)
    p.add_argument("--steps", type=int, default=3, help="timed training steps per model (after warm-up)")
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--sample-steps", type=int, default=5)
    p.add_argument("--device", default=None)
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: gdlib.device's choice)")
    p.add_argument("--ensembles", type=int, nargs="*", default=[1, 4, 16],
                   help="ensemble sizes K to time at the quick setting (empty: skip)")
    args = p.parse_args(argv)
    _device.setup(args.threads)
    dev = _device.get_device(args.device)
    load0 = _load()
    print(_device.describe(dev))
    print(f"timed: {args.steps} training steps and {args.sample_steps} sampling steps per model after "
          f"{args.warmup} warm-up; reference and ours alternate step by step")
    results = []
    for key in args.only or ["paper", "quick"]:
        batch = args.paper_batch if key == "paper" else args.quick_batch
        sbatch = args.paper_sample_batch if key == "paper" else args.quick_sample_batch
        r = bench_setting(SETTINGS[key](batch, sbatch), dev, args.steps, args.warmup, args.sample_steps)
        results.append(r)
        s = r["setting"]
        print(f"\n== {s.name}; training batch {s.batch}, sampling batch {s.sample_batch}")
        tb, sb = r["train_best"], r["sample_best"]
        print(f"training images/s, median (best): ours {r['train_ours']:.2f} ({tb['ours']:.2f})   "
              f"reference {r['train_ref']:.2f} ({tb['ref']:.2f})   "
              f"ratio {r['train_ours'] / r['train_ref']:.2f}x ({tb['ours'] / tb['ref']:.2f}x)")
        print(f"sampling image-steps/s, median (best): ours {r['sample_ours']:.1f} ({sb['ours']:.1f})   "
              f"reference {r['sample_ref']:.1f} ({sb['ref']:.1f})   "
              f"ratio {r['sample_ours'] / r['sample_ref']:.2f}x ({sb['ours'] / sb['ref']:.2f}x)")
        line = (f"FLOPs per training step {r['flops_per_step'] / 1e9:.1f} G "
                f"({r['flops_per_step'] / s.batch / 1e9:.2f} G per image); "
                f"achieved {r['achieved'] / 1e9:.1f} GFLOP/s")
        if r["peak"]:
            best = 100 * r["achieved_best"] / r["peak"]
            line += (f" = {100 * r['achieved'] / r['peak']:.1f}% (best step {best:.1f}%)"
                     f" of a {r['peak'] / 1e9:.0f} GFLOP/s {_device.compute_dtype(dev)} peak")
        print(line)
        print("step times (s): ours " + ", ".join(f"{t:.2f}" for t in r["times"]["ours"])
              + "; reference " + ", ".join(f"{t:.2f}" for t in r["times"]["ref"]))
    if args.ensembles:
        s = SETTINGS["quick"](args.quick_batch, args.quick_sample_batch)
        ens = bench_ensembles(s, dev, tuple(args.ensembles), args.steps, args.warmup)
        print(f"\n== ensembles at {s.name}; batch {s.batch} per model, K models as one vmapped network")
        for k, r in ens.items():
            print(f"K = {k:2d}: {r['per_model']:.1f} training images/s per model ({r['total']:.1f} in all); "
                  f"plain reference single model {r['ref']:.1f}; per-model ratio {r['per_model'] / r['ref']:.2f}x")
        results.append({"ensembles": ens})
    print(f"\nload average (1 min) at the end: {_load():.2f} on {_device.usable_cores()} cores "
          f"(started at {load0:.2f}); other jobs slow both sides alike, medians and best steps both shown")
    return results


def _load() -> float:
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return float("nan")


if __name__ == "__main__":
    main()
