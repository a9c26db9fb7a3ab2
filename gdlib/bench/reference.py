"""The plain reference, written the way dome272's Diffusion-Models-pytorch is: its self-attention
(``nn.MultiheadAttention`` returning its weights) in our UNet, and its training step (fp32, a ``DataLoader``
over a ``TensorDataset`` of float images, for-each AdamW and a parameter-by-parameter EMA)."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from gdlib.model import UNet

if TYPE_CHECKING:
    from gdlib.bench.settings import Setting


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


def _ema_update(ema: nn.Module, model: nn.Module, decay: float = 0.995) -> None:
    with torch.no_grad():
        for e, p in zip(ema.parameters(), model.parameters(), strict=True):
            e.mul_(decay).add_(p, alpha=1 - decay)


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
