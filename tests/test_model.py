"""The conditional UNet of App. A.1: shapes for any N >= 8, conditioning, attention, layer capture."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gdlib import device, diffusion
from gdlib.model import LAYERS, SelfAttention, UNet, capture, padded_size, sinusoidal_encoding

device.setup(threads=1)  # tiny models: one thread beats two contended ones


def _inputs(b: int, n: int):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(b, 1, n, n, generator=g)
    t = torch.randint(0, 1000, (b,), generator=g)
    labels = torch.rand(b, 2, generator=g) * n
    return x, t, labels


@pytest.mark.parametrize("n", [8, 16, 32])
def test_unet_maps_an_n_by_n_image_to_a_noise_prediction_of_the_same_shape(n):
    model = UNet(width=8, heads=2)
    x, t, labels = _inputs(2, n)
    with torch.no_grad():
        assert model(x, t, labels).shape == (2, 1, n, n)


def test_one_unet_serves_several_image_sizes_since_attention_follows_the_input():
    model = UNet(width=8, heads=1)
    with torch.no_grad():
        for n in (16, 24):
            assert model(*_inputs(1, n)).shape == (1, 1, n, n)


def test_the_paper_width_gives_the_fig7_channel_counts():
    model = UNet(width=64)
    assert (model.down1.maxpool_conv[-1].double_conv[0].in_channels,
            model.down1.maxpool_conv[-1].double_conv[-1].num_channels) == (64, 128)
    assert model.up1.conv[0].double_conv[0].in_channels == 512  # Up(512, 128)
    assert model.up2.conv[0].double_conv[0].in_channels == 256  # Up(256, 64)
    assert model.up2.emb_layer[1].out_features == 64
    assert model.up3.conv[0].double_conv[0].in_channels == 128  # Up(128, 64)
    assert 20e6 < sum(p.numel() for p in model.parameters()) < 26e6  # measured: 23.3 M


@pytest.mark.parametrize("n", [12, 20, 44])
def test_sizes_not_divisible_by_8_are_padded_and_cropped_back(n):
    model = UNet(width=8, heads=1)
    x, t, labels = _inputs(2, n)
    assert model(x, t, labels).shape == x.shape
    with capture(model, ["layer4"]) as acts:
        model(x, t, labels)
    padded = n + (-n % 8)
    assert acts["layer4"].shape == (2, 8, padded // 2, padded // 2)


def test_images_smaller_than_8_are_refused():
    with pytest.raises(ValueError, match="at least 8"):
        UNet(width=8, heads=1)(*_inputs(1, 4))


def test_dropped_attention_sites_become_identities_under_the_same_names():
    model = UNet(width=8, heads=1, attention_resolutions=(2, 4, 8))
    assert isinstance(model.sa6, nn.Identity)  # full resolution
    assert all(isinstance(getattr(model, f"sa{i}"), SelfAttention) for i in range(1, 6))
    with pytest.raises(ValueError, match="attention_resolutions"):
        UNet(width=8, heads=1, attention_resolutions=(3,))
    with pytest.raises(ValueError, match="heads"):
        UNet(width=8, heads=3)


def test_centres_one_pixel_apart_have_encodings_at_least_0_95_apart():
    # the fastest (sin, cos) pair turns one radian per pixel: a chord of 2 sin(1/2) = 0.959
    mu = torch.arange(0, 32.01, 0.25)
    step = (sinusoidal_encoding(mu + 1, 64) - sinusoidal_encoding(mu, 64)).norm(dim=1)
    assert step.min() > 0.95
    tenth = (sinusoidal_encoding(mu + 0.1, 64) - sinusoidal_encoding(mu, 64)).norm(dim=1)
    assert tenth.min() > 0.09  # the dataset's increment d = 0.1 is resolved too


def test_embedding_concatenates_three_equal_encodings_of_t_x_and_y():
    model = UNet(width=8, heads=1, enc_dim=16)
    t, labels = torch.tensor([5.0]), torch.tensor([[3.0, 7.0]])
    emb = model.embed(t, labels)
    assert emb.shape == (1, 48)
    assert torch.allclose(emb[:, 16:32], sinusoidal_encoding(torch.tensor([3.0]), 16))
    assert torch.allclose(emb[:, 32:], sinusoidal_encoding(torch.tensor([7.0]), 16))


def test_conditioning_changes_the_output():
    model = UNet(width=8, heads=1)
    x, t, labels = _inputs(1, 8)
    with torch.no_grad():
        assert not torch.allclose(model(x, t, labels), model(x, t, labels + 1))


@pytest.mark.parametrize("explicit", [False, True], ids=["sdpa", "explicit"])
def test_sdpa_attention_equals_pytorch_multihead_attention_with_the_same_weights(explicit):
    torch.manual_seed(0)
    ours = SelfAttention(16, heads=4)
    ours.explicit = explicit  # softmax(Q K^T / sqrt(d)) V in matrix products, as the vmapped ensemble runs it
    mha = nn.MultiheadAttention(16, 4, batch_first=True)
    with torch.no_grad():
        mha.in_proj_weight.copy_(ours.qkv.weight)
        mha.in_proj_bias.copy_(ours.qkv.bias)
        mha.out_proj.weight.copy_(ours.proj.weight)
        mha.out_proj.bias.copy_(ours.proj.bias)
        x = torch.randn(2, 16, 4, 4)
        tokens = x.flatten(2).transpose(1, 2)
        ln = ours.ln(tokens)
        ref = tokens + mha(ln, ln, ln, need_weights=False)[0]
        ref = (ref + ours.ff_self(ref)).transpose(1, 2).reshape(2, 16, 4, 4)
        # fp32 (no autocast here) through LN, two matmuls, softmax and an MLP summed in another order: a few u
        # (2^-24 = 6e-8) per op on outputs of size O(1), so about 1e-6; 1e-5 is 10x that, a wrong head split O(1)
        assert torch.allclose(ours(x), ref, atol=1e-5)


@pytest.mark.parametrize("n", [8, 16])
def test_layer4_capture_is_the_output_of_up_256_64_at_half_resolution(n):
    model = UNet(width=8, heads=1)
    x, t, labels = _inputs(3, n)
    with capture(model, ["layer4", "bottleneck", "layer0", "layer5", "sa5"]) as acts, torch.no_grad():
        model(x, t, labels)
    assert acts["layer4"].shape == (3, 8, n // 2, n // 2)
    assert acts["sa5"].shape == (3, 8, n // 2, n // 2)
    assert acts["bottleneck"].shape == (3, 32, n // 8, n // 8)
    assert acts["layer0"].shape == (3, 16, n // 2, n // 2)
    assert acts["layer5"].shape == (3, 8, n, n)
    assert acts["layer4"].dtype == torch.float32
    assert not model.up2._forward_hooks  # hooks are removed on exit
    assert set(LAYERS) == {"layer0", "layer1", "layer2", "layer3", "layer4", "layer5", "bottleneck"}


def test_capturing_an_unknown_layer_names_it():
    with pytest.raises(ValueError, match="layer9"), capture(UNet(width=8, heads=1), ["layer9"]):
        pass


def test_bf16_autocast_is_used_exactly_where_the_cpu_has_bf16_instructions(monkeypatch):
    monkeypatch.delenv("GDLIB_BF16", raising=False)
    flags = device.cpu_flags()
    if flags:
        assert device.bf16_supported("cpu") == bool({"avx512_bf16", "amx_bf16"} & flags)
    monkeypatch.setenv("GDLIB_BF16", "0")
    assert not device.bf16_supported("cpu") and device.compute_dtype("cpu") == torch.float32
    monkeypatch.setenv("GDLIB_BF16", "1")
    assert device.bf16_supported("cpu")
    model = UNet(width=8, heads=1)
    x, t, labels = _inputs(2, 8)
    with torch.no_grad(), device.autocast("cpu"):
        out = model(x, t, labels)
    assert out.dtype == torch.bfloat16 and torch.isfinite(out.float()).all()


def test_channels_last_model_gives_the_same_prediction():
    torch.manual_seed(0)
    model = UNet(width=8, heads=1)
    x, t, labels = _inputs(2, 16)
    with torch.no_grad():
        ref = model(x, t, labels)
        out = device.prepare_model(model, "cpu")(x, t, labels)
    # fp32 on both sides (no autocast): channels_last only reorders each convolution's sums, about 1e-6 at the
    # output (see test_diffusion's batch-size test for the count); 1e-5 is 10x that, a misplaced channel O(1)
    assert torch.allclose(ref, out, atol=1e-5)


def test_the_unet_computes_on_n_rounded_up_to_a_multiple_of_8():
    assert [padded_size(n) for n in (8, 12, 16, 17, 32, 44)] == [8, 16, 16, 24, 32, 48]


def test_small_models_train_in_fp32_with_for_each_adamw_on_a_cpu_with_bf16(monkeypatch):
    # issue 21: below width 16 bf16 autocast and fused AdamW cost more than they save on the CPU (device.py's numbers)
    monkeypatch.delenv("GDLIB_BF16", raising=False)
    monkeypatch.setattr(device, "_cpu_has_bf16", lambda: True)
    assert [device.bf16_for(w, "cpu") for w in (4, 8, 16, 64)] == [False, False, True, True]
    assert [device.fused_adamw(w, "cpu") for w in (8, 16, 64)] == [False, True, True]
    assert device.bf16_for(None, "cpu")  # not a UNet: the CPU's own answer
    monkeypatch.setattr(device, "_cpu_has_bf16", lambda: False)
    assert not device.bf16_for(64, "cpu")  # no bf16 instructions: fp32 at every width
    monkeypatch.setenv("GDLIB_BF16", "1")
    assert device.bf16_for(8, "cpu")  # the override wins over the width rule
    monkeypatch.setenv("GDLIB_BF16", "0")
    assert not device.bf16_for(64, "cpu")


def test_the_loss_and_the_sampler_run_a_small_model_in_fp32_and_a_wide_one_in_bf16(monkeypatch):
    monkeypatch.delenv("GDLIB_BF16", raising=False)
    monkeypatch.setattr(device, "_cpu_has_bf16", lambda: True)
    seen = []
    for width in (8, 16):
        model = UNet(width=width, heads=1)
        model.register_forward_hook(lambda m, i, out: seen.append(out.dtype))
        x, t, labels = _inputs(2, 8)
        diffusion.loss(model, diffusion.linear_schedule(), x, labels, torch.Generator().manual_seed(0))
        diffusion.sample(model, diffusion.linear_schedule(), labels, 8, method="ddim", steps=1, device="cpu",
                         batch_size=2)  # a fixed batch: no memory probe call among the hooked ones
    assert seen == [torch.float32, torch.float32, torch.bfloat16, torch.bfloat16]


def test_the_peak_memory_line_names_the_device_s_kind_of_memory():
    line = device.peak_memory("cpu")
    assert line.startswith("peak resident memory") and float(line.split(": ")[1].split()[0]) > 0


def test_the_sampler_s_probe_does_not_erase_the_process_s_cuda_peak(monkeypatch):
    # review: gdlib.memory's probe reset CUDA's peak statistics before every sampling, so gpu-check's "peak GPU
    # memory allocated" (notebook 02, after training) reported the peak since the last probe, not training's.
    # Faked CUDA statistics: training peaks at 40 GiB, the probe resets, sampling then peaks at 3 GiB.
    peak = {"now": 40 * 2**30}
    monkeypatch.setattr(device, "_EARLIER_PEAKS", {})
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda _d=None: peak["now"])
    monkeypatch.setattr(torch.cuda, "reset_peak_memory_stats", lambda _d=None: peak.update(now=0))
    gpu = type("Properties", (), {"total_memory": 80 * 2**30})
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda _d=None: gpu)
    device.reset_peak_memory("cuda:0")
    peak["now"] = 3 * 2**30
    assert device.peak_memory("cuda:0").startswith("peak GPU memory allocated: 40.00 GiB")
    peak["now"] = 50 * 2**30
    assert device.peak_memory("cuda:0").startswith("peak GPU memory allocated: 50.00 GiB")
