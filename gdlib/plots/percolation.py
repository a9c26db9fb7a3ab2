"""Figures of the percolation experiment (notebook 07; Sec. 3.3, App. D): the simulated mass ratio (Fig. 6c, 13,
14b)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np


def plot_mass_ratio(ax: plt.Axes, result, threshold: float) -> None:
    """Fig. 6c / 14b / 13: largest-cluster mass ratio versus lambda, one curve per sigma (mean +- std)."""
    i = result.thresholds.index(threshold)
    lambdas = np.asarray(result.lambdas)
    for j, sigma in enumerate(result.sigmas):
        mean, std = result.mean[i, j], result.std[i, j]
        ax.plot(lambdas, mean, marker="o", markersize=3, label=fr"$\sigma$ = {sigma:g}")
        ax.fill_between(lambdas, mean - std, mean + std, alpha=0.2)
    ax.set_xlabel(r"fraction of data $\lambda$")
    ax.set_ylabel("largest cluster mass ratio")
    ax.set_title(f"overlap threshold {threshold:g}", fontsize=9)
    ax.set_ylim(-0.02, 1.02)

