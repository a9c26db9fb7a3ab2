"""The model shapes the benchmark times: the paper's architecture, the quick torus model, the sweeps' model."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Setting:
    name: str
    n: int
    width: int
    attention: tuple[int, ...]
    heads: int
    batch: int
    sample_batch: int


SETTINGS = {
    "paper": lambda b, sb: Setting("paper (N=32, width 64, attention everywhere, 4 heads)",
                                   32, 64, (1, 2, 4, 8), 4, b, sb),
    "quick": lambda b, sb: Setting("quick (N=16, width 16, no full-res attention, 1 head)",
                                   16, 16, (2, 4, 8), 1, b, sb),
    "sweep": lambda b, sb: Setting("sweep (N=16, width 8, no full-res attention, 1 head: notebooks 05 and 06 at quick)",
                                   16, 8, (2, 4, 8), 1, b, sb),
}
