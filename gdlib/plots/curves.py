"""The learning curves of the generalisation claims (:mod:`gdlib.curves`): each model's claim number against its
optimiser steps, the controls (which do not train) as flat lines beside it."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt

from gdlib.curves import STILL_LEARNING_TOLERANCE, Curve, still_learning

#: Line styles of the controls, the copier (the memorisation floor) first.
CONTROL_STYLES = ("--", ":", "-.", (0, (1, 3)))


def plot_curves(curves: Sequence[Curve] | Mapping[object, Curve], ncols: int = 4,
                tolerance: float = STILL_LEARNING_TOLERANCE, panel: tuple[float, float] = (3.2, 2.6)) -> plt.Figure:
    """One panel per model (``panel``: its width and height in inches; ``ncols`` per row): its number (%) at each
    checkpoint against steps (log 2 axis), each control a flat line, and the title saying whether the
    still-learning gate passes."""
    curves = list(curves.values()) if isinstance(curves, Mapping) else list(curves)
    ncols = max(1, min(ncols, len(curves)))
    nrows = max(1, math.ceil(len(curves) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(panel[0] * ncols, panel[1] * nrows), sharey=True, squeeze=False)
    for ax in axes.flat[len(curves):]:
        ax.axis("off")
    for ax, c in zip(axes.flat, curves):
        ax.plot(c.steps, [100 * v for v in c.values], "-o", ms=4, color="C0", label="model")
        for style, (kind, value) in zip(CONTROL_STYLES, c.controls.items()):
            ax.axhline(100 * value, ls=style, lw=1, color="k", label=kind)
        ax.set_xscale("log", base=2)
        ax.set_ylim(-3, 103)
        gate = still_learning(c, tolerance)
        ax.set_title(f"{c.model}: {'settled' if gate.passed else 'still learning'}", fontsize=8)
        ax.set_xlabel("optimiser steps", fontsize=8)
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel(f"{curves[0].metric} (%)" if curves else "")
    if curves:
        axes[0, 0].legend(fontsize=6)
    fig.tight_layout()
    return fig


__all__ = ["CONTROL_STYLES", "plot_curves"]
