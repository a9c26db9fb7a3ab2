"""The diffusion process: schedule, forward noising, exact samplers (App. A.4; Ho et al.; Song et al.)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gdlib import device
from gdlib.diffusion import _network, ddim_timesteps, linear_schedule, loss, q_sample, sample, to_uint8
from gdlib.model import UNet

device.setup(threads=1)


def test_default_schedule_is_dome272s_linear_1e4_to_0_02_over_1000_steps():
    s = linear_schedule()
    assert s.T == 1000
    assert math.isclose(float(s.betas[0]), 1e-4) and math.isclose(float(s.betas[-1]), 0.02)
    assert float(s.alpha_bar[-1]) < 1e-4  # x_T is pure noise


def test_fewer_steps_rescale_the_betas_so_the_last_step_is_still_pure_noise():
    s = linear_schedule(200)
    assert math.isclose(float(s.betas[-1]), 0.1) and math.isclose(float(s.betas[0]), 5e-4)
    assert float(s.alpha_bar[-1]) < 1e-4
    with pytest.raises(ValueError, match="T = 10"):
        linear_schedule(10)  # beta_end * 100 = 2 > 1


def test_q_sample_matches_the_closed_form_mean_and_variance():
    s = linear_schedule()
    g = torch.Generator().manual_seed(0)
    x0 = torch.full((200_000, 1, 1, 1), 0.7)
    for t_index in (10, 500, 900):
        t = torch.full((len(x0),), t_index)
        xt = q_sample(s, x0, t, torch.randn(x0.shape, generator=g))
        mean, var = math.sqrt(float(s.alpha_bar[t_index])) * 0.7, 1 - float(s.alpha_bar[t_index])
        se = math.sqrt(var / len(x0))
        assert abs(float(xt.mean()) - mean) < 5 * se
        assert abs(float(xt.var()) - var) < 0.01 * var + 1e-6


def _exact_predictor(x0: torch.Tensor, schedule):
    """The ideal eps of a one-image dataset: eps = (x_t - sqrt(abar_t) x0) / sqrt(1 - abar_t)."""

    def eps(x_t, t, labels):
        a = schedule.alpha_bar[t].float().view(-1, 1, 1, 1)
        return (x_t - a.sqrt() * x0) / (1 - a).sqrt()

    return eps


def _one_image(n: int = 8) -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.arange(1, n + 1.0), torch.arange(1, n + 1.0), indexing="ij")
    return (1 - 2 * torch.exp(-((xx - 3) ** 2 + (yy - 5) ** 2) / 4)).view(1, 1, n, n)


@pytest.mark.parametrize("method,steps,eta", [("ddpm", None, 1.0), ("ddim", 20, 0.0), ("ddim", 20, 1.0)])
def test_both_samplers_return_the_one_image_of_its_dataset_given_the_exact_noise(method, steps, eta):
    schedule = linear_schedule()
    x0 = _one_image()
    out = sample(_exact_predictor(x0, schedule), schedule, np.zeros((5, 2)), 8, method=method, steps=steps,
                 eta=eta, seed=1, batch_size=3, device="cpu")
    assert out.images.shape == (5, 1, 8, 8)
    # the exact predictor makes every step's x_0 estimate x0 up to fp32 rounding of a few operations (u = 6e-8 on
    # values of size 1), and clipping keeps it bounded, so the error does not build up over the T steps: well
    # under 1e-4; a sampler with a wrong coefficient misses x0 by O(beta_t) = 1e-4..2e-2 or more
    assert torch.allclose(out.images, x0.expand(5, -1, -1, -1), atol=1e-4)


def test_ddim_timesteps_run_from_t_minus_1_down_to_0():
    ts = ddim_timesteps(1000, 50)
    assert ts[0] == 999 and ts[-1] == 0 and len(ts) == 50 and ts == sorted(ts, reverse=True)


def test_sampling_is_reproducible_and_returns_the_last_step_activations():
    model = UNet(width=8, heads=1)
    schedule = linear_schedule(100)
    labels = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    a = sample(model, schedule, labels, 8, method="ddim", steps=4, seed=3, batch_size=2, capture=["layer4"])
    b = sample(model, schedule, labels, 8, method="ddim", steps=4, seed=3, batch_size=2)
    assert torch.equal(a.images, b.images)
    assert a.activations["layer4"].shape == (3, 8, 4, 4)
    assert a.images.min() >= -1 - 1e-5 and a.images.max() <= 1 + 1e-5  # x0 clipping, last step = x0
    c = sample(model, schedule, labels[:1], 8, method="ddpm", seed=3, capture=["layer4", "bottleneck"])
    assert c.activations["bottleneck"].shape == (1, 32, 1, 1)
    assert model.training  # sampling switched to eval mode and back


def test_loss_is_the_mse_of_the_noise_prediction():
    schedule = linear_schedule()
    x0 = _one_image().expand(4, -1, -1, -1)
    exact = _exact_predictor(_one_image(), schedule)
    assert float(loss(exact, schedule, x0, torch.zeros(4, 2), torch.Generator().manual_seed(0))) < 1e-8
    zero = lambda x, t, c: torch.zeros_like(x)
    assert 0.7 < float(loss(zero, schedule, x0, torch.zeros(4, 2), torch.Generator().manual_seed(0))) < 1.3


def test_loss_draws_t_then_the_noise_unless_the_caller_fixes_them():
    schedule = linear_schedule(100)
    x0 = torch.rand(3, 1, 8, 8) * 2 - 1
    seen = {}

    def record(x_t, t, labels):
        seen["x_t"], seen["t"] = x_t, t
        return torch.zeros_like(x_t)

    drawn = loss(record, schedule, x0, torch.zeros(3, 2), torch.Generator().manual_seed(5))
    g = torch.Generator().manual_seed(5)
    t = torch.randint(0, schedule.T, (3,), generator=g)
    noise = torch.randn(x0.shape, generator=g)
    assert torch.equal(seen["t"], t) and torch.equal(seen["x_t"], q_sample(schedule, x0, t, noise))
    given = loss(record, schedule, x0, torch.zeros(3, 2), t=t, noise=noise)
    assert float(given) == float(drawn) == float(torch.mean(noise**2))

def test_to_uint8_maps_minus_one_to_black_and_one_to_white():
    out = to_uint8(torch.tensor([[[[-1.0, 0.0, 1.0, 2.0]]]]))
    assert out.dtype == np.uint8 and out.tolist() == [[[0, 128, 255, 255]]]


def test_bad_sampler_arguments_name_the_parameter():
    schedule = linear_schedule(100)
    with pytest.raises(ValueError, match="method"):
        sample(lambda x, t, c: x, schedule, np.zeros((1, 2)), 8, method="euler")
    with pytest.raises(ValueError, match="eta"):
        sample(lambda x, t, c: x, schedule, np.zeros((1, 2)), 8, method="ddim", eta=2.0)


@pytest.mark.parametrize("method", ["ddpm", "ddim"])
def test_the_noise_a_sample_gets_does_not_depend_on_the_batch_size(method):
    # sample_batch_size is kept out of the training key: it must only bound the memory of a network call.
    # With a network whose output for a row does not depend on the other rows, the samples are bitwise equal.
    schedule = linear_schedule(100)
    rowwise = lambda x, t, c: 0.3 * x + 0.01 * c[:, :1, None, None]
    labels = torch.arange(14.0).reshape(7, 2)
    runs = [sample(rowwise, schedule, labels, 8, method=method, steps=6, seed=5, batch_size=b, device="cpu").images
            for b in (7, 3, 1)]
    assert torch.equal(runs[0], runs[1]) and torch.equal(runs[0], runs[2])


# The sampler's arithmetic outside the network is shown batch-independent bit for bit above; what is left is the
# network's own rounding, for one call. fp32: each layer's reductions (convolutions, matmuls over K <= 9 x 2C
# terms) are summed in another order by another batch size's kernel, about sqrt(K) u = 17 u relative per layer with
# u = 2^-24 = 6e-8; over the UNet's ~20 layers that walks to about 80 u = 5e-6 (measured 1.2e-6 relative on a Zen 4):
# 1e-4 is 20x that. bf16 autocast: convolutions accumulate in fp32 and round their outputs to bf16
# (u = 2^-8 = 3.9e-3); another summation order flips an output's rounding by one bf16 ulp where the fp32 sum lies
# near a rounding boundary, which moves the prediction by O(u): 8 u = 3.1e-2 (measured 0). A network that mixed rows
# (batch statistics, attention across the batch) would differ by O(1). (Before issue 19 this compared whole
# 100-step ancestral runs, where such differences grow with every step: it failed on a CPU with bf16.)
@pytest.mark.parametrize(("bf16", "rtol"), [(False, 1e-4), (True, 8 * 2.0**-8)])
def test_a_real_unet_s_prediction_for_a_row_does_not_depend_on_the_batch_size(bf16, rtol):
    torch.manual_seed(0)
    model = UNet(width=8, heads=1).eval()
    labels = torch.arange(14.0).reshape(7, 2)
    x = torch.randn(7, 1, 8, 8)
    with torch.no_grad():
        a, b, c = (_network(model, labels, bs, [], {}, bf16)(x, 50, False) for bs in (7, 2, 1))
    scale = float(a.abs().max())
    assert torch.allclose(a, b, rtol=0, atol=rtol * scale) and torch.allclose(a, c, rtol=0, atol=rtol * scale)


def test_samples_and_captured_activations_carry_no_autograd_graph():
    # issue 21: the sampler ran with gradients on, so the samples came back with requires_grad and a graph of every
    # network call of the run behind them
    model = UNet(width=8, heads=1)
    out = sample(model, linear_schedule(), torch.rand(3, 2) * 8, 8, method="ddim", steps=2, capture=["layer4"],
                 device="cpu")
    assert not out.images.requires_grad and out.images.grad_fn is None
    assert all(not a.requires_grad for a in out.activations.values()) and out.activations


_PEAK_PROBE = """
import resource, torch
from gdlib import device
device.setup(threads=1)
from gdlib.diffusion import linear_schedule, sample
from gdlib.model import UNet
peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # MiB, the process's high-water mark
torch.manual_seed(0)
model, labels, schedule = UNet(width=8, heads=1), torch.rand(16, 2) * 8, linear_schedule(1000)
sample(model, schedule, labels, 8, method="ddim", steps=10, autocast=False)  # warm-up: kernels, allocator
base = peak()
sample(model, schedule, labels, 8, method="ddim", steps=10, autocast=False)
ten = peak()
sample(model, schedule, labels, 8, method="ddpm", autocast=False)  # ancestral: all T = 1,000 steps
print(base, ten, peak())
"""


@pytest.mark.slow
def test_ancestral_sampling_for_1000_steps_needs_no_more_memory_than_10_steps():
    # Run in a fresh process, whose peak resident memory is this sampling's alone. With the graph kept (issue 21)
    # every step adds its activations: measured 2.4 GB more for these 16 samples over 1,000 steps (9.8 GB for 64);
    # without it the 1,000-step run reuses the 10-step run's buffers (measured +0.1 MB). The bound is the issue's
    # "no more than twice the memory of 10 steps", above the warm-up's level, with 32 MiB for the allocator's noise.
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", _PEAK_PROBE], capture_output=True, text=True, timeout=600,
                          env={**__import__("os").environ, "GDLIB_BF16": "0"})
    assert done.returncode == 0, done.stderr[-2000:]
    base, ten, thousand = map(float, done.stdout.split()[-3:])
    assert thousand - base <= 2 * (ten - base) + 32, (base, ten, thousand)


# --- the sampler's batch from memory (issue 21) ----------------------------------------------------------------
def test_the_batch_from_memory_is_the_free_share_over_the_bytes_per_sample_clamped_to_one_and_the_cap():
    from gdlib import memory

    model = UNet(width=8, heads=1).eval()
    per = memory.bytes_per_sample(model, 8, "cpu")
    # a UNet call holds at least its input and output (2 x 64 fp32 values) and the first block's 8 channels
    assert per >= 8 * 8 * 8 * 4
    room = lambda k: int(k * per / memory.SAMPLE_MEMORY_SHARE) + 1  # free memory for exactly k samples
    assert memory.sample_batch_size(model, 8, 500, "cpu", free=room(37)) == 37
    assert memory.sample_batch_size(model, 8, 500, "cpu", free=0) == 1  # never zero: one sample always runs
    assert memory.sample_batch_size(model, 8, 20, "cpu", free=room(37)) == 20  # no larger than the request
    assert memory.sample_batch_size(model, 8, 10**6, "cpu", free=10**15) == memory.MAX_SAMPLE_BATCH
    assert model.training is False  # the probe leaves the model's mode as it found it


def test_the_cpu_estimate_of_a_samples_memory_grows_with_the_image_and_the_network(monkeypatch):
    from gdlib import device, memory

    monkeypatch.setattr(device, "bf16_for", lambda *_a, **_k: False)  # fp32 at both widths (bf16 halves the bytes)
    small, wide = UNet(width=8, heads=1).eval(), UNet(width=16, heads=1).eval()
    assert memory.bytes_per_sample(small, 16, "cpu") > 3 * memory.bytes_per_sample(small, 8, "cpu")  # ~ N^2 pixels
    assert memory.bytes_per_sample(wide, 8, "cpu") > 1.5 * memory.bytes_per_sample(small, 8, "cpu")  # ~ channels


def test_a_sampler_without_a_batch_size_splits_its_calls_as_the_memory_rule_says(monkeypatch):
    from gdlib import memory

    torch.manual_seed(0)
    model = UNet(width=8, heads=1).eval()
    per = memory.bytes_per_sample(model, 8, "cpu")
    monkeypatch.setattr(memory, "free_memory", lambda _device=None: int(3 * per / memory.SAMPLE_MEMORY_SHARE) + 1)
    sizes = []
    hook = model.register_forward_hook(lambda _m, args, _out: sizes.append(len(args[0])))
    labels = torch.arange(14.0).reshape(7, 2)
    auto = sample(model, linear_schedule(100), labels, 8, method="ddim", steps=2, seed=3, device="cpu")
    hook.remove()
    assert sizes[-3:] == [3, 3, 1] and len(sizes) == 2 * 3 + 1  # the probe call at batch 2, then 3 + 3 + 1 per step
    fixed = sample(model, linear_schedule(100), labels, 8, method="ddim", steps=2, seed=3, device="cpu", batch_size=3)
    assert torch.equal(auto.images, fixed.images)


def test_a_sample_batch_size_below_zero_is_refused_by_name():
    from gdlib.config import TrainConfig

    assert TrainConfig(sample_batch_size=0).sample_batch_size == 0  # 0: from memory
    with pytest.raises(ValueError, match="sample_batch_size"):
        TrainConfig(sample_batch_size=-1)
    with pytest.raises(ValueError, match="batch_size"):  # 0 in sample() too: from memory, which needs a module
        sample(lambda x, t, c: x, linear_schedule(100), np.zeros((1, 2)), 8, batch_size=0)
    with pytest.raises(ValueError, match="batch_size"):
        sample(lambda x, t, c: x, linear_schedule(100), np.zeros((1, 2)), 8, batch_size=-1)


def test_the_cpu_estimate_counts_the_attention_matrices_of_the_explicit_path(monkeypatch):
    # review: softmax(Q K^T) V in plain matrix products holds (B, heads, HW, HW) matrices that are no module's output;
    # measured (torch profiler, width 16, N = 32, 4 heads): 34 MB a sample against an estimate of 2.8 MB without them
    from gdlib import memory
    from gdlib.model import SelfAttention

    model = UNet(width=8, heads=1).eval()
    fused = memory.bytes_per_sample(model, 16, "cpu", autocast=False)
    monkeypatch.setattr(SelfAttention, "explicit", True)
    explicit = memory.bytes_per_sample(model, 16, "cpu", autocast=False)
    sites = {1: 16 * 16, 2: 8 * 8, 4: 4 * 4, 8: 2 * 2}  # tokens at each downsampling factor of N = 16
    matrices = 2 * sum(1 * hw**2 * 4 for f, hw in sites.items() for _ in range(1 if f in (1, 8) else 2))
    assert explicit - fused == matrices


def test_the_batch_from_memory_is_probed_under_the_sampler_s_autocast(monkeypatch):
    # review: the probe ran under the model's default autocast whatever the sampler was asked for; bf16 outputs are
    # half the bytes of fp32 ones, so an fp32 sampler of a bf16-default model was sized for half its memory
    from gdlib import memory

    model = UNet(width=16, heads=1).eval()
    assert memory.bytes_per_sample(model, 8, "cpu", autocast=False) > memory.bytes_per_sample(model, 8, "cpu",
                                                                                             autocast=True)
    seen = []
    monkeypatch.setattr(memory, "sample_batch_size", lambda *a, **k: seen.append(k.get("autocast")) or 4)
    sample(model, linear_schedule(100), torch.zeros(3, 2), 8, method="ddim", steps=1, device="cpu", autocast=False)
    assert seen == [False]
