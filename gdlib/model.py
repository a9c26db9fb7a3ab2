"""The conditional UNet of App. A.1 / Fig. 7, in the layout of dome272's Diffusion-Models-pytorch.

``UNet(width=64)`` is the paper's network for 1-channel N x N images (any N >= 8; sizes that are not
multiples of 8, such as 12 or the 44 of the extended space, are padded on the right and bottom by
replicating the edge, and the output is cropped back, so the three 2x poolings always divide)::

    inc   DoubleConv(1, 64)                                   N
    down1 Down(64, 128)   + sa1        "layer0"               N/2
    down2 Down(128, 256)  + sa2        "layer1"               N/4
    down3 Down(256, 256)  + sa3        "layer2"               N/8
    bot1..bot3  DoubleConv 256 -> 512 -> 512 -> 256  "bottleneck" (= bot3)
    up1   Up(512, 128)    + sa4        "layer3"               N/4
    up2   Up(256, 64)     + sa5        "layer4"  (Sec. 3)     N/2
    up3   Up(128, 64)     + sa6        "layer5"               N
    outc  Conv2d(64, 1, 1)

All channel counts scale with ``width``. ``attention_resolutions`` lists the downsampling factors
whose attention sites are kept (1 = full resolution N, 2 = N/2, 4, 8; the paper: all four);
a dropped site is an ``nn.Identity`` under the same name, so layer names never move.
``layerK`` is the output of the block itself, before its self-attention (a forward hook on
dome272's ``up2`` gives the same tensor); capture any other module by its name (``"sa5"``).

Conditioning (App. A.1): the embedding is the concatenation of three equal-length sinusoidal
encodings (Vaswani et al.; Fig. 7's formula) of the timestep t and the continuous centre
coordinates mu_x and mu_y in pixel units, and each block adds ``Linear(SiLU(emb))``, one projection
per block as dome272's ``emb_layer``. Frequencies: ``base ** (-2i / enc_dim)`` for
i = 0 .. enc_dim/2 - 1, base 10000, so the fastest pair turns 1 radian per pixel: two centres
one pixel apart differ by at least 2 sin(1/2) = 0.96 in Euclidean norm (tests check it), and the
slowest ones keep 1000 timesteps apart. The encoding is not periodic in mu, as in the paper: the
torus's topology must be learned from the images.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

import torch
import torch.nn.functional as F
from torch import nn

from gdlib.checks import check_choice, check_int

#: Fig. 7's numbering of the blocks, and the bottleneck, mapped to module names.
LAYERS: dict[str, str] = {
    "layer0": "down1",
    "layer1": "down2",
    "layer2": "down3",
    "bottleneck": "bot3",
    "layer3": "up1",
    "layer4": "up2",
    "layer5": "up3",
}

ALL_ATTENTION = (1, 2, 4, 8)
#: The smallest image side the UNet takes: three 2x poolings.
MIN_SIZE = 8


def check_unet(width: int, heads: int, attention_resolutions: Iterable[int], enc_dim: int) -> None:
    """The UNet's settings, checked here once for :class:`UNet` and :class:`gdlib.training.TrainConfig`: a
    positive width divided by the number of heads, attention sites among :data:`ALL_ATTENTION`, an even
    encoding size of at least 2."""
    check_int("width", width, 1)
    check_int("heads", heads, 1)
    if width % heads:
        raise ValueError(f"heads = {heads} is not allowed: must divide width = {width}")
    for f in attention_resolutions:
        check_choice("attention_resolutions", f, ALL_ATTENTION)
    check_int("enc_dim", enc_dim, 2)
    if enc_dim % 2:
        raise ValueError(f"enc_dim = {enc_dim} is not allowed: must be even")


def check_image_size(name: str, size: int) -> None:
    """Images must be at least :data:`MIN_SIZE` pixels on a side (smaller sizes are padded up to a multiple of 8)."""
    if size < MIN_SIZE:
        raise ValueError(f"{name} = {size} is not allowed: must be at least {MIN_SIZE} (three 2x poolings)")


def padded_size(n: int) -> int:
    """The side the UNet computes on for an input of side ``n``: ``n`` rounded up to a multiple of 8 (three
    2x poolings); the extra rows and columns are edge padding, cropped from the output."""
    return n + (-n % 8)


def sinusoidal_encoding(values: torch.Tensor, dim: int, base: float = 10000.0) -> torch.Tensor:
    """(B,) -> (B, dim): ``[sin(v w_i), cos(v w_i)]`` with ``w_i = base ** (-2 i / dim)``.

    Fig. 7's PE(v, 2i) = sin(v / base^(2i/d)), PE(v, 2i+1) = cos(...), with the sines first and the
    cosines after (a fixed permutation, which the following Linear layer does not care about).
    """
    if dim % 2:
        raise ValueError(f"dim = {dim} is not allowed: must be even")
    half = dim // 2
    freqs = base ** (-torch.arange(half, device=values.device, dtype=torch.float32) * 2.0 / dim)
    angles = values.float()[:, None] * freqs[None, :]
    return torch.cat([angles.sin(), angles.cos()], dim=1)


class DoubleConv(nn.Module):
    """conv3x3 -> GroupNorm(1) -> GELU -> conv3x3 -> GroupNorm(1), optionally residual (then GELU)."""

    def __init__(self, in_channels: int, out_channels: int, mid_channels: int | None = None,
                 residual: bool = False):
        super().__init__()
        mid_channels = mid_channels or out_channels
        self.residual = residual
        self.double_conv = nn.Sequential(
            nn.Conv2d(in_channels, mid_channels, kernel_size=3, padding=1, bias=False),
            nn.GroupNorm(1, mid_channels),
            nn.GELU(),
            nn.Conv2d(mid_channels, out_channels, kernel_size=3, padding=1, bias=False),
            nn.GroupNorm(1, out_channels),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.residual:
            return F.gelu(x + self.double_conv(x))
        return self.double_conv(x)


class Down(nn.Module):
    """Max-pool 2x, DoubleConv(residual), DoubleConv; plus the projected embedding."""

    def __init__(self, in_channels: int, out_channels: int, emb_dim: int):
        super().__init__()
        self.maxpool_conv = nn.Sequential(
            nn.MaxPool2d(2),
            DoubleConv(in_channels, in_channels, residual=True),
            DoubleConv(in_channels, out_channels),
        )
        self.emb_layer = nn.Sequential(nn.SiLU(), nn.Linear(emb_dim, out_channels))

    def forward(self, x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        x = self.maxpool_conv(x)
        return x + self.emb_layer(emb)[:, :, None, None]


class Up(nn.Module):
    """Bilinear upsample 2x, concat the skip, DoubleConv(residual), DoubleConv(mid = in/2); plus embedding."""

    def __init__(self, in_channels: int, out_channels: int, emb_dim: int):
        super().__init__()
        self.up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)
        self.conv = nn.Sequential(
            DoubleConv(in_channels, in_channels, residual=True),
            DoubleConv(in_channels, out_channels, in_channels // 2),
        )
        self.emb_layer = nn.Sequential(nn.SiLU(), nn.Linear(emb_dim, out_channels))

    def forward(self, x: torch.Tensor, skip: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        x = torch.cat([skip, self.up(x)], dim=1)
        x = self.conv(x)
        return x + self.emb_layer(emb)[:, :, None, None]


class SelfAttention(nn.Module):
    """dome272's SelfAttention (pre-LN multi-head attention + residual, LN-MLP + residual) on the
    H*W tokens of whatever size comes in, through ``scaled_dot_product_attention`` (no weights kept).
    With ``explicit = True`` it computes softmax(Q K^T / sqrt(d)) V in plain matrix products instead (the
    same numbers within rounding): ``torch.func.vmap`` batches those, while it runs SDPA's CPU kernel once per
    model of an ensemble (``gdlib.bench.ensemble`` sets it)."""

    explicit: bool = False

    def __init__(self, channels: int, heads: int):
        super().__init__()
        if channels % heads:
            raise ValueError(f"heads = {heads} is not allowed: must divide the {channels} channels")
        self.channels, self.heads = channels, heads
        self.ln = nn.LayerNorm(channels)
        self.qkv = nn.Linear(channels, 3 * channels)
        self.proj = nn.Linear(channels, channels)
        self.ff_self = nn.Sequential(
            nn.LayerNorm(channels), nn.Linear(channels, channels), nn.GELU(), nn.Linear(channels, channels)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        tokens = x.flatten(2).transpose(1, 2)  # (B, HW, C)
        qkv = self.qkv(self.ln(tokens)).view(b, h * w, 3, self.heads, c // self.heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)  # each (B, heads, HW, C / heads)
        if self.explicit:  # Vaswani et al. Eq. 1
            att = torch.softmax(q @ k.transpose(-2, -1) * (c // self.heads) ** -0.5, dim=-1) @ v
        else:
            att = F.scaled_dot_product_attention(q, k, v)
        att = att.transpose(1, 2).reshape(b, h * w, c)
        tokens = tokens + self.proj(att)
        tokens = tokens + self.ff_self(tokens)
        return tokens.transpose(1, 2).reshape(b, c, h, w)


class UNet(nn.Module):
    """Noise predictor eps(x_t, t, (mu_x, mu_y)) of App. A.1 (see the module docstring)."""

    def __init__(self, width: int = 64, attention_resolutions: Iterable[int] = ALL_ATTENTION, heads: int = 4,
                 enc_dim: int = 64, channels: int = 1, enc_base: float = 10000.0):
        super().__init__()
        attention_resolutions = tuple(sorted(set(attention_resolutions)))
        check_unet(width, heads, attention_resolutions, enc_dim)
        self.width, self.heads, self.enc_dim, self.enc_base = width, heads, enc_dim, enc_base
        self.attention_resolutions = attention_resolutions
        w, e = width, 3 * enc_dim

        def attention(c: int, factor: int) -> nn.Module:
            return SelfAttention(c, heads) if factor in attention_resolutions else nn.Identity()

        self.inc = DoubleConv(channels, w)
        self.down1, self.sa1 = Down(w, 2 * w, e), attention(2 * w, 2)
        self.down2, self.sa2 = Down(2 * w, 4 * w, e), attention(4 * w, 4)
        self.down3, self.sa3 = Down(4 * w, 4 * w, e), attention(4 * w, 8)
        self.bot1 = DoubleConv(4 * w, 8 * w)
        self.bot2 = DoubleConv(8 * w, 8 * w)
        self.bot3 = DoubleConv(8 * w, 4 * w)
        self.up1, self.sa4 = Up(8 * w, 2 * w, e), attention(2 * w, 4)
        self.up2, self.sa5 = Up(4 * w, w, e), attention(w, 2)
        self.up3, self.sa6 = Up(2 * w, w, e), attention(w, 1)
        self.outc = nn.Conv2d(w, channels, kernel_size=1)

    def embed(self, t: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """cat(PE(t), PE(mu_x), PE(mu_y)): (B, 3 * enc_dim)."""
        d, base = self.enc_dim, self.enc_base
        return torch.cat([sinusoidal_encoding(t, d, base), sinusoidal_encoding(labels[:, 0], d, base),
                          sinusoidal_encoding(labels[:, 1], d, base)], dim=1)

    def forward(self, x: torch.Tensor, t: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """x: (B, C, N, N), N >= 8; t: (B,) timesteps; labels: (B, 2) = (mu_x, mu_y)."""
        height, width = x.shape[-2:]
        check_image_size("image size", min(height, width))
        pad_h, pad_w = padded_size(height) - height, padded_size(width) - width
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
        emb = self.embed(t, labels)
        x1 = self.inc(x)
        x2 = self.sa1(self.down1(x1, emb))
        x3 = self.sa2(self.down2(x2, emb))
        x4 = self.sa3(self.down3(x3, emb))
        x4 = self.bot3(self.bot2(self.bot1(x4)))
        x = self.sa4(self.up1(x4, x3, emb))
        x = self.sa5(self.up2(x, x2, emb))
        x = self.sa6(self.up3(x, x1, emb))
        return self.outc(x)[..., :height, :width]


def module_name(layer: str) -> str:
    """``"layer4"`` -> ``"up2"``; any other name passes through (checked against the model on capture)."""
    return LAYERS.get(layer, layer)


@contextlib.contextmanager
def capture(model: nn.Module, layers: Iterable[str]) -> Iterator[dict[str, torch.Tensor]]:
    """Forward hooks on the named layers; yields a dict of each layer's latest output (fp32, detached).

    >>> with capture(model, ["layer4"]) as acts:
    ...     model(x, t, labels)
    >>> acts["layer4"].shape   # (B, width, N/2, N/2)
    """
    store: dict[str, torch.Tensor] = {}
    handles = []
    try:
        for layer in layers:
            try:
                module = model.get_submodule(module_name(layer))
            except AttributeError as err:
                raise ValueError(f"layer = {layer!r} is not allowed: must be one of {', '.join(LAYERS)} "
                                 "or a module name of the model") from err

            def hook(_module, _inputs, output, layer=layer):
                store[layer] = output.detach().float()

            handles.append(module.register_forward_hook(hook))
        yield store
    finally:
        for handle in handles:
            handle.remove()


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())

