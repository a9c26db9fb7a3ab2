"""Figures of the sample-efficiency sweep (notebook 06; Sec. 3.2, Fig. 5): accuracy against the percentage of
bumps kept (Fig. 5 a-b), the data needed for 60% accuracy against N on log-log axes (Fig. 5c), and the samples
shown beside them."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from gdlib.experiments.sample_efficiency import DATASETS, LABELS, THRESHOLD, SweepPoint
from gdlib.experiments.sample_efficiency_claims import PowerLawFit
from gdlib.regions import region_codes
from gdlib.runs import evaluate

COLOURS = {"baseline": "tab:blue", "augmented": "tab:orange"}  # Fig. 5c


def plot_accuracy_vs_percent(ax: plt.Axes, results: pd.DataFrame, dataset: str, column: str = "acc_all_strict",
                             threshold: float = THRESHOLD) -> None:
    """Fig. 5 a-b: accuracy against the percentage of bumps kept, one curve per N (seaborn: the mean over seeds,
    error bars one standard deviation), with the 0, 60 and 100% reference lines (red dashed)."""
    mine = results[results["dataset"] == dataset]
    data = mine.assign(accuracy=100 * mine[column], curve=mine["N"].map("N = {}".format))
    sizes = sorted(mine["N"].unique())
    palette = {f"N = {n}": plt.get_cmap("viridis")(j / max(1, len(sizes) - 1) * 0.85) for j, n in enumerate(sizes)}
    sns.lineplot(data=data, x="percent", y="accuracy", hue="curve", hue_order=list(palette), palette=palette,
                 marker="o", markersize=4, errorbar="sd", err_style="bars", err_kws={"capsize": 2}, ax=ax)
    for level in (0.0, threshold, 1.0):
        ax.axhline(100 * level, color="red", linestyle="--", linewidth=0.8)
    ax.set_xscale("log")
    ax.set_ylim(-5, 105)
    ax.set_xlabel("2D bumps kept (%)")
    ax.set_ylabel("accuracy (%)")
    ax.set_title(LABELS[dataset], fontsize=9)
    ax.legend(fontsize=7, loc="upper left")


def plot_data_needed(ax: plt.Axes, cross: pd.DataFrame, fits: Mapping[str, PowerLawFit],
                     ylabel: str = "dataset size for 60% accuracy") -> None:
    """Fig. 5c: size needed against N on log-log axes, one colour per data set (geometric mean over
    seeds, error bars the spread of the seeds), the fitted lines, and linear (grey) and quadratic
    (black) dashed references through the smallest N's value. Open triangles: censored values (the
    smallest size already reached 60%: an upper bound, pointing down; never reached: the largest
    size, a lower bound, pointing up)."""
    all_n = np.array(sorted(cross["N"].unique()), dtype=float)
    anchor = None
    for dataset in DATASETS:
        g = cross[cross["dataset"] == dataset]
        colour = COLOURS[dataset]
        hit = g[g["status"] == "crossed"]
        if len(hit):
            logs = hit.groupby("N")["size_needed"].agg(lambda v: np.log(v).mean())
            spread = hit.groupby("N")["size_needed"].agg(lambda v: np.log(v).std(ddof=1)).fillna(0.0)  # gdlib.seeds
            centre = np.exp(logs.to_numpy())
            err = np.vstack([centre - np.exp(logs - spread), np.exp(logs + spread) - centre])
            fit = fits.get(dataset)
            label = LABELS[dataset] + (f": {fit.describe()}" if fit is not None else "")
            ax.errorbar(logs.index.to_numpy(float), centre, yerr=err, fmt="o", color=colour, capsize=3,
                        label=label)
            if anchor is None:
                anchor = (float(logs.index[0]), float(centre[0]))
            if fit is not None and math.isfinite(fit.slope):
                ax.plot(all_n, fit.predict(all_n), color=colour, linewidth=1.2)
        for status, marker in (("below_range", "v"), ("never", "^")):
            c = g[g["status"] == status]
            if len(c):
                ax.scatter(c["N"], c["bound"], marker=marker, facecolors="none", edgecolors=colour, s=40,
                           label=f"{LABELS[dataset]}: {'at most' if status == 'below_range' else 'more than'}")
    if anchor is None:
        finite = cross["bound"].to_numpy(float)
        finite = finite[np.isfinite(finite)]
        if len(finite) and len(all_n):
            anchor = (float(all_n[0]), float(np.exp(np.log(finite).mean())))
    if anchor is not None and len(all_n):
        ns = np.linspace(all_n[0], all_n[-1], 50)
        ax.plot(ns, anchor[1] * (ns / anchor[0]), "--", color="grey", linewidth=0.9, label="linear reference")
        ax.plot(ns, anchor[1] * (ns / anchor[0]) ** 2, "--", color="black", linewidth=0.9,
                label="quadratic reference")
    ax.set_xscale("log")
    ax.set_yscale("log")
    if len(all_n):
        ax.set_xticks(all_n)
        ax.set_xticklabels([f"{int(v)}" for v in all_n])
        ax.minorticks_off()
    ax.set_xlabel("image size N")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=7)


def example_samples(points: Sequence[SweepPoint], name: str, n: int, count: int = 4,
                    seed: int | None = None) -> tuple[np.ndarray, list[str]]:
    """Generated images at ``count`` centres, half in the held-out centre square and half outside, from
    the smallest and the largest percentage of each data set at size ``n`` (first seed by default):
    the rows of a sample figure, with titles "<data set> <percent>%: (x, y) ID|OOD"."""
    chosen = [p for p in points if p.n == n and p.seed == (seed if seed is not None else points[0].seed)]
    images, titles = [], []
    for dataset in DATASETS:
        mine = sorted((p for p in chosen if p.dataset == dataset), key=lambda p: p.percent)
        for p in {id(q): q for q in (mine[:1] + mine[-1:])}.values():
            try:
                ev = evaluate(p.config, name, "final", layers=())
            except FileNotFoundError:
                continue
            codes = region_codes(ev.labels, p.config.data.holdout, n)
            rng = np.random.default_rng(0)
            pick = []
            for code, k in ((1, count // 2), (0, count - count // 2)):
                pool = np.flatnonzero(codes == code)
                pick += list(rng.choice(pool, size=min(k, len(pool)), replace=False))
            for i in pick:
                x, y = ev.labels[i]
                images.append(ev.images[i])
                titles.append(f"{dataset} {p.percent:g}%: ({x:g}, {y:g}) {'OOD' if codes[i] else 'ID'}")
    return np.array(images), titles
