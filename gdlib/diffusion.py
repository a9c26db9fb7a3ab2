"""The diffusion process: noise schedule, forward noising, the training loss and two samplers.

Notation of Ho et al. 2020 (DDPM), with timesteps indexed t = 0 .. T-1 (their t = 1 .. T):
``beta_t`` the noise added at step t, ``alpha_t = 1 - beta_t``, ``alpha_bar_t = prod_{s<=t} alpha_s``.

- :func:`linear_schedule`: linear betas 1e-4 .. 0.02 over T = 1000 steps (dome272's defaults; the
  paper states none). For another T both ends are scaled by 1000 / T, so the last step's noise
  level stays close to pure noise (T = 200 would otherwise leave alpha_bar_T = 0.13, not 4e-5).
- :func:`q_sample`: ``x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps`` (Ho et al. Eq. 4).
- :func:`loss`: ``|| eps - eps_theta(x_t, t, c) ||^2`` averaged (Ho et al. Algorithm 1; paper App. A.4 Eq. 2).
- :func:`sample`: ancestral DDPM (Ho et al. Algorithm 2) or DDIM (Song et al. 2021, Eq. 12) with
  ``eta`` (0 deterministic, 1 as stochastic as DDPM). Both predict x_0 from eps, clip it to [-1, 1]
  and step from the clipped x_0 (as lucidrains' and diffusers' samplers); they can capture any
  layer's activations during the last network call (t = 0, the terminal step of App. A.3).

Images live in [-1, 1] (255 -> 1 = white); :func:`to_uint8` maps back to 0 .. 255.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import torch

from gdlib import device as _device
from gdlib import memory
from gdlib.checks import check_choice, check_int, check_range
from gdlib.model import capture as capture_layers

#: An eps predictor: (x_t (B, 1, N, N), t (B,) long, labels (B, 2)) -> eps (B, 1, N, N).
EpsModel = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class Schedule:
    """The precomputed schedule: float64 tensors of length T (index t = 0 .. T-1)."""

    T: int
    betas: torch.Tensor  # beta_t
    alphas: torch.Tensor  # alpha_t = 1 - beta_t
    alpha_bar: torch.Tensor  # alpha_bar_t = prod_{s <= t} alpha_s
    alpha_bar_prev: torch.Tensor  # alpha_bar_{t-1}, with alpha_bar_{-1} = 1

    @property
    def sqrt_alpha_bar(self) -> torch.Tensor:  # sqrt(alpha_bar_t): signal scale of x_t
        return self.alpha_bar.sqrt()

    @property
    def sqrt_one_minus_alpha_bar(self) -> torch.Tensor:  # sqrt(1 - alpha_bar_t): noise scale of x_t
        return (1 - self.alpha_bar).sqrt()

    @property
    def posterior_variance(self) -> torch.Tensor:
        # beta~_t = (1 - alpha_bar_{t-1}) / (1 - alpha_bar_t) * beta_t (Ho et al. Eq. 7)
        return (1 - self.alpha_bar_prev) / (1 - self.alpha_bar) * self.betas


def check_schedule(T: int, beta_start: float, beta_end: float) -> None:
    """The settings of :func:`linear_schedule`, checked here once for it and for
    :class:`gdlib.training.TrainConfig`: 0 < beta_start <= beta_end, and the largest beta after the 1000 / T
    scaling, beta_end * 1000 / T, below 1 (so beta_end < T / 1000)."""
    check_int("T", T, 2, 100_000)
    check_range("beta_start", beta_start, 0.0, 1.0, low_open=True, high_open=True)
    check_range("beta_end", beta_end, beta_start, 1.0, high_open=True)
    if beta_end * 1000.0 / T >= 1:
        raise ValueError(f"beta_end = {beta_end} is not allowed with T = {T}: the betas are scaled by 1000 / T, and "
                         f"beta_end * 1000 / T = {beta_end * 1000.0 / T:g} must be below 1")


def linear_schedule(T: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02) -> Schedule:
    """Linear betas from ``beta_start`` to ``beta_end`` (values for T = 1000), scaled by 1000 / T."""
    check_schedule(T, beta_start, beta_end)
    scale = 1000.0 / T
    betas = torch.linspace(beta_start * scale, beta_end * scale, T, dtype=torch.float64)
    alphas = 1 - betas
    alpha_bar = torch.cumprod(alphas, 0)
    alpha_bar_prev = torch.cat([torch.ones(1, dtype=torch.float64), alpha_bar[:-1]])
    return Schedule(T, betas, alphas, alpha_bar, alpha_bar_prev)


def _at(values: torch.Tensor, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """values[t] as a (B, 1, 1, 1) tensor in ``like``'s dtype and device."""
    return values.to(like.device)[t.to(like.device)].to(like.dtype).view(-1, *([1] * (like.dim() - 1)))


def q_sample(schedule: Schedule, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """x_t ~ q(x_t | x_0) = N(sqrt(alpha_bar_t) x_0, (1 - alpha_bar_t) I), noise given (Ho Eq. 4)."""
    return _at(schedule.sqrt_alpha_bar, t, x0) * x0 + _at(schedule.sqrt_one_minus_alpha_bar, t, x0) * noise


def loss(model: EpsModel, schedule: Schedule, x0: torch.Tensor, labels: torch.Tensor,
         generator: torch.Generator | None = None, autocast: bool | None = None, *,
         t: torch.Tensor | None = None, noise: torch.Tensor | None = None) -> torch.Tensor:
    """Ho et al. Algorithm 1 / App. A.4 Eq. 2: MSE between eps and eps_theta(x_t, t, c), t uniform.

    ``generator`` draws t and then eps (on x0's device) unless they are given: ``t`` (B,) long timesteps and
    ``noise`` of x0's shape fix them (a loss measured at chosen timesteps with chosen noise, Fig. 14c). The
    network runs under bf16 autocast when ``autocast`` says so, by default where :func:`gdlib.device.bf16_for`
    does for the model's width.
    """
    if t is None:
        t = torch.randint(0, schedule.T, (x0.shape[0],), device=x0.device, generator=generator)
    if noise is None:
        noise = torch.randn(x0.shape, device=x0.device, generator=generator, dtype=x0.dtype)
    x_t = q_sample(schedule, x0, t, noise)
    with _device.autocast(x0.device, autocast, model):
        pred = model(x_t, t, labels)
    return torch.mean((pred.float() - noise) ** 2)


def ddim_timesteps(T: int, steps: int) -> list[int]:
    """``steps`` timesteps evenly spaced from T-1 down to 0, both ends included (descending)."""
    check_int("steps", steps, 1, T)
    return sorted({int(round(v)) for v in np.linspace(0, T - 1, steps)}, reverse=True)


def to_uint8(images: torch.Tensor | np.ndarray) -> np.ndarray:
    """[-1, 1] images (..., 1, N, N) or (..., N, N) -> uint8 0 .. 255 numpy, channel axis dropped."""
    if isinstance(images, torch.Tensor):
        images = images.detach().float().cpu().numpy()
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[1] == 1:
        images = images[:, 0]
    return np.clip(np.rint((images + 1) * 127.5), 0, 255).astype(np.uint8)


@dataclass
class Samples:
    """What :func:`sample` returns: images in [-1, 1] (M, 1, N, N) and captured activations, on the CPU."""

    images: torch.Tensor
    labels: torch.Tensor
    activations: dict[str, torch.Tensor] = field(default_factory=dict)

    def uint8(self) -> np.ndarray:
        """(M, N, N) uint8, 255 = white, as the datasets."""
        return to_uint8(self.images)


def _network(model: EpsModel, labels: torch.Tensor, batch_size: int, capture: list[str],
             activations: dict[str, torch.Tensor], autocast: bool | None) -> Callable:
    """eps_theta(x_t, t, last) for all samples, ``batch_size`` at a time; at the last call (``last``)
    the ``capture`` layers' outputs are kept in ``activations``. Batching only bounds the memory of a
    network call: the sampler's arithmetic outside the network, and its noise, run on all samples at once."""

    def eps_theta(x: torch.Tensor, t: int, last: bool) -> torch.Tensor:
        outs, kept = [], {name: [] for name in capture}
        for start in range(0, len(x), batch_size):
            xb, lb = x[start:start + batch_size], labels[start:start + batch_size]
            tt = torch.full((len(xb),), t, device=x.device, dtype=torch.long)
            hooks = capture_layers(model, capture) if last and capture else contextlib.nullcontext({})
            with hooks as got, _device.autocast(x.device, autocast, model):
                outs.append(model(xb, tt, lb).float())
            for name, value in got.items():
                kept[name].append(value.cpu())
        if last:
            activations.update({name: torch.cat(values) for name, values in kept.items()})
        return torch.cat(outs)

    return eps_theta


def _eps_and_x0(eps_theta: Callable, schedule: Schedule, x: torch.Tensor, t: int, clip: bool,
                last: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """eps_theta(x_t, t) and the x_0 it implies, clipped to [-1, 1]; eps recomputed from the clipped x_0."""
    eps = eps_theta(x, t, last)
    a_bar = float(schedule.alpha_bar[t])
    x0 = (x - (1 - a_bar) ** 0.5 * eps) / a_bar**0.5
    if clip:
        x0 = x0.clamp(-1, 1)
        eps = (x - a_bar**0.5 * x0) / (1 - a_bar) ** 0.5
    return eps, x0


def _ddpm_loop(eps_theta, schedule, x, generator, clip, variance, tick):
    """Ho et al. Algorithm 2, x_0 clipped: x_{t-1} = mu~_t(x_t, x0_hat) + sigma_t z, no noise at t = 0."""
    for t in range(schedule.T - 1, -1, -1):
        _, x0 = _eps_and_x0(eps_theta, schedule, x, t, clip, last=t == 0)
        a_bar, a_bar_prev = float(schedule.alpha_bar[t]), float(schedule.alpha_bar_prev[t])
        beta, alpha = float(schedule.betas[t]), float(schedule.alphas[t])
        # posterior mean of q(x_{t-1} | x_t, x_0) (Ho et al. Eq. 7)
        mean = (a_bar_prev**0.5 * beta / (1 - a_bar)) * x0 + (alpha**0.5 * (1 - a_bar_prev) / (1 - a_bar)) * x
        if t > 0:
            var = beta if variance == "beta" else float(schedule.posterior_variance[t])
            x = mean + var**0.5 * torch.randn(x.shape, device=x.device, generator=generator)
        else:
            x = mean
        tick()
    return x


def _ddim_loop(eps_theta, schedule, x, generator, clip, steps, eta, tick):
    """Song et al. 2021 Eq. 12: x_prev = sqrt(a_prev) x0 + sqrt(1 - a_prev - s^2) eps + s z."""
    ts = ddim_timesteps(schedule.T, steps)
    for i, t in enumerate(ts):
        eps, x0 = _eps_and_x0(eps_theta, schedule, x, t, clip, last=i == len(ts) - 1)
        a_bar = float(schedule.alpha_bar[t])
        a_prev = float(schedule.alpha_bar[ts[i + 1]]) if i + 1 < len(ts) else 1.0
        s = eta * ((1 - a_prev) / (1 - a_bar) * (1 - a_bar / a_prev)) ** 0.5
        x = a_prev**0.5 * x0 + max(1 - a_prev - s**2, 0.0) ** 0.5 * eps
        if s > 0:
            x = x + s * torch.randn(x.shape, device=x.device, generator=generator)
        tick()
    return x


def _check_sampler(schedule: Schedule, n: int, method: str, steps: int | None, eta: float, batch_size: int,
                   variance: str) -> int | None:
    """Check :func:`sample`'s settings; the DDIM step count (default 50), or ``steps`` as given for DDPM."""
    check_choice("method", method, ("ddpm", "ddim"))
    check_choice("variance", variance, ("beta", "posterior"))
    check_range("eta", eta, 0.0, 1.0)
    check_int("batch_size", batch_size, 0)
    check_int("n", n, 8)
    if method == "ddim":
        steps = 50 if steps is None else steps
        check_int("steps", steps, 1, schedule.T)
    return steps


def _sampling_device(model: EpsModel, device: torch.device | str | None,
                     capture: list[str]) -> tuple[torch.device, bool]:
    """(the device samples are drawn on, whether ``model`` was in training mode), the model put in eval mode."""
    if isinstance(model, torch.nn.Module):
        was_training = model.training
        model.eval()
        return (next(model.parameters()).device if device is None else torch.device(device)), was_training
    if capture:
        raise ValueError("capture needs an nn.Module model")
    return (_device.get_device() if device is None else torch.device(device)), False


def _batch_from_memory(model: EpsModel, n: int, count: int, device: torch.device, autocast: bool | None) -> int:
    if not isinstance(model, torch.nn.Module):
        raise ValueError("batch_size = 0 (from memory) needs an nn.Module model; give a number >= 1")
    return memory.sample_batch_size(model, n, count, device, autocast=autocast)


@torch.no_grad()  # issue 21: without it every network call of the T steps is kept for a backward pass
def sample(
    model: EpsModel,
    schedule: Schedule,
    labels: torch.Tensor | np.ndarray,
    n: int,
    method: str = "ddpm",
    steps: int | None = None,
    eta: float = 1.0,
    clip: bool = True,
    seed: int = 0,
    batch_size: int = 0,
    capture: Iterable[str] = (),
    device: torch.device | str | None = None,
    autocast: bool | None = None,
    variance: str = "beta",
    progress: bool | None = False,
) -> Samples:
    """Generate one N x N image per label row (mu_x, mu_y).

    ``method``: ``"ddpm"`` (ancestral, all T steps, sigma_t^2 = beta_t as Ho et al.'s Algorithm 2
    and dome272, or ``variance="posterior"`` for beta~_t) or ``"ddim"`` (``steps`` steps, default 50,
    with ``eta``). ``capture``: layer names (:data:`gdlib.model.LAYERS` or module names) whose outputs
    at the last network call (t = 0) are returned (needs an ``nn.Module``). ``seed`` seeds the one
    generator that draws all the noise, for all samples at once at every step, so the noise a sample
    gets depends on the seed, its row and the device, not on ``batch_size``, which only bounds how many
    samples one network call takes (the memory; 0, as ``TrainConfig.sample_batch_size``: as many as fit
    in the free memory, :func:`gdlib.memory.sample_batch_size`).
    (The network itself may round differently by batch size, in the last bits of float32.)
    ``progress``: a tqdm bar over network calls (None: tqdm's default, hidden when not a terminal).
    """
    steps = _check_sampler(schedule, n, method, steps, eta, batch_size, variance)
    n_calls = schedule.T if method == "ddpm" else len(ddim_timesteps(schedule.T, steps))
    capture = list(capture)
    device, was_training = _sampling_device(model, device, capture)
    if not isinstance(labels, torch.Tensor):
        labels = torch.as_tensor(np.asarray(labels, dtype=np.float32))
    labels = labels.float().reshape(-1, 2)
    batch_size = batch_size or _batch_from_memory(model, n, len(labels), device, autocast)
    generator = torch.Generator(device=device).manual_seed(int(seed))
    activations: dict[str, torch.Tensor] = {}
    eps_theta = _network(model, labels.to(device), batch_size, capture, activations, autocast)
    bar = None
    if progress is not False:
        from tqdm.auto import tqdm

        bar = tqdm(total=n_calls, desc=f"sampling ({method})", disable=None if progress is None else False)
    tick = bar.update if bar is not None else (lambda: None)
    try:
        x = torch.randn((len(labels), 1, n, n), device=device, generator=generator)
        if method == "ddpm":
            x = _ddpm_loop(eps_theta, schedule, x, generator, clip, variance, tick)
        else:
            x = _ddim_loop(eps_theta, schedule, x, generator, clip, steps, eta, tick)
    finally:
        if bar is not None:
            bar.close()
        if was_training:
            model.train()
    return Samples(x.float().cpu(), labels.cpu(), activations)
