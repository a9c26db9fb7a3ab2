"""Every ipywidgets browser, for a live kernel only: never the figure of record (notebooks save static figures,
and their widget cells run only when ``INTERACTIVE`` is true).

- :func:`dataset_browser` (notebook 01): the training image nearest to a chosen centre;
- :func:`sample_browser` (02): a model's samples by centre and checkpoint, beside the ground truth;
- :func:`manifold_browser` (03, 04): a representation's PC projections by checkpoint;
- :func:`composition_browser` (05): what a composition model generates at any (mu_x, mu_y), in the frame or out.
"""

from __future__ import annotations

from collections.abc import Sequence

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np

from gdlib import diffusion
from gdlib.accuracy import estimate_centres
from gdlib.config import TrainConfig
from gdlib.controls import oracle_images
from gdlib.datasets import CATEGORIES, Dataset, DatasetConfig, make_dataset
from gdlib.experiments.composition import MODEL_NAME, ModelSpec, by_key
from gdlib.images import render
from gdlib.plots.data import plot_latent_layout
from gdlib.regions import nearest_indices
from gdlib.runs import evaluate, load_checkpoint


def dataset_browser(cfg: DatasetConfig | Dataset) -> widgets.Widget:
    """Sliders over (mu_x, mu_y) showing the training image nearest to that centre and its tag."""
    ds = cfg if isinstance(cfg, Dataset) else make_dataset(cfg)
    lo, hi = float(ds.labels.min()), float(ds.labels.max())
    step = float(min(ds.config.d))
    out = widgets.Output()

    def show(mu_x: float, mu_y: float) -> None:
        i = int(nearest_indices(np.array([[mu_x, mu_y]]), ds.labels, ds.config.n, ds.config.periodic)[0])
        with out:
            out.clear_output(wait=True)
            fig, ax = plt.subplots(figsize=(3, 3))
            ax.imshow(ds.images[i], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
            ax.set_title(f"({ds.labels[i, 0]:.2f}, {ds.labels[i, 1]:.2f}) {CATEGORIES[ds.category[i]]}", fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
            plt.show()

    sliders = {name: widgets.FloatSlider(value=(lo + hi) / 2, min=lo, max=hi, step=step, description=name)
               for name in ("mu_x", "mu_y")}
    widgets.interactive_output(show, sliders)
    return widgets.VBox([widgets.HBox(list(sliders.values())), out])


def manifold_browser(reps) -> widgets.Widget:
    """Browse a model's representation: checkpoint slider, PC pair, colour by mu_x or mu_y.

    ``reps``: the list of :class:`gdlib.representation.CheckpointRepresentation` of notebook 03/04.
    """
    out = widgets.Output()
    checkpoint = widgets.IntSlider(value=len(reps) - 1, min=0, max=len(reps) - 1, description="checkpoint")
    pc_a = widgets.IntSlider(value=1, min=1, max=8, description="PC a")
    pc_b = widgets.IntSlider(value=3, min=1, max=8, description="PC b")
    colour = widgets.ToggleButtons(options=["x", "y"], description="colour by")

    def show(checkpoint: int, pc_a: int, pc_b: int, colour: str) -> None:
        r = reps[checkpoint]
        coords = r.pca.project(r.h, max(pc_a, pc_b))
        with out:
            out.clear_output(wait=True)
            fig, ax = plt.subplots(figsize=(4, 4))
            ax.scatter(coords[:, pc_a - 1], coords[:, pc_b - 1], c=r.labels[:, 0 if colour == "x" else 1],
                       cmap="twilight", s=6)
            ax.set_xlabel(f"PC {pc_a}")
            ax.set_ylabel(f"PC {pc_b}")
            ax.set_title(f"epoch {r.epoch}, accuracy {100 * r.accuracy:.0f}%", fontsize=9)
            plt.show()

    widgets.interactive_output(show, {"checkpoint": checkpoint, "pc_a": pc_a, "pc_b": pc_b, "colour": colour})
    return widgets.VBox([widgets.HBox([checkpoint, colour]), widgets.HBox([pc_a, pc_b]), out])


def sample_browser(cfg: TrainConfig, name: str, epochs: Sequence[int | str]):
    """ipywidgets: sliders over (mu_x, mu_y) on the integer grid and over the evaluated checkpoints,
    showing the generated sample and the ground truth. For a live kernel only (never the figure of record)."""
    evals = {str(e): evaluate(cfg, name, e, layers=()) for e in epochs}
    n = cfg.data.n
    out = widgets.Output()

    def show(mu_x: int, mu_y: int, checkpoint: str) -> None:
        ev = evals[checkpoint]
        i = int(nearest_indices(np.array([[mu_x, mu_y]]), ev.labels)[0])
        with out:
            out.clear_output(wait=True)
            fig, axes = plt.subplots(1, 2, figsize=(5, 2.6))
            axes[0].imshow(ev.images[i], cmap="gray", vmin=0, vmax=255, interpolation="nearest")
            axes[0].plot(ev.centres[i, 0] - 1, ev.centres[i, 1] - 1, "r+", ms=10)
            axes[0].set_title(f"generated, epoch {checkpoint}", fontsize=9)
            axes[1].imshow(oracle_images(ev.labels[i:i + 1], cfg.data)[0], cmap="gray", vmin=0, vmax=255,
                           interpolation="nearest")
            axes[1].set_title(f"truth ({ev.labels[i, 0]:.0f}, {ev.labels[i, 1]:.0f})", fontsize=9)
            for ax in axes:
                ax.set_xticks([])
                ax.set_yticks([])
            plt.show()

    controls = {
        "mu_x": widgets.IntSlider(value=n // 2, min=1, max=n, description="mu_x"),
        "mu_y": widgets.IntSlider(value=n // 2, min=1, max=n, description="mu_y"),
        "checkpoint": widgets.SelectionSlider(options=list(evals), value=list(evals)[-1],
                                              description="epoch"),
    }
    widgets.interactive_output(show, controls)
    return widgets.VBox([widgets.HBox(list(controls.values())), out])


def generate_at(model: ModelSpec, mu_x: float, mu_y: float, name: str = MODEL_NAME, seed: int = 0,
                cache: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The image (uint8 (N, N)) the trained ``model`` generates for the label (mu_x, mu_y) with its own
    sampler and a fixed seed, and its estimated centre (App. A.3). ``cache`` keeps loaded networks by key."""
    cache = {} if cache is None else cache
    cfg = model.config
    if model.key not in cache:
        cache[model.key] = load_checkpoint(cfg, name, "final")
    out = diffusion.sample(cache[model.key], cfg.schedule(), np.array([[mu_x, mu_y]], dtype=np.float32), cfg.data.n,
                           method=cfg.sampler, steps=cfg.sample_steps, eta=cfg.eta, seed=seed)
    image = out.uint8()[0]
    return image, estimate_centres(image, cfg.data.periodic, family=cfg.data.family)


def browser_figure(model: ModelSpec, mu_x: float, mu_y: float, image: np.ndarray, centre: np.ndarray) -> plt.Figure:
    """Left: the model's training centres and hold-out with the chosen point (black star); middle: the
    generated image and its estimated centre (red +); right: the formula's image at (mu_x, mu_y)
    (the family's 2D image in the frame, the SOS stripes outside it, as in the training sets)."""
    data = model.data
    n = data.n
    family = data.family if 0 <= mu_x <= n and 0 <= mu_y <= n else "sos"
    truth = render(family, [mu_x], [mu_y], n, data.sigma_x, data.sigma_y, data.periodic)[0]
    fig, axes = plt.subplots(1, 3, figsize=(9, 3))
    plot_latent_layout(axes[0], data, model.key, display_d=max(0.5, max(data.d)), point_size=1.5)
    axes[0].plot([mu_x], [mu_y], "k*", ms=12)
    axes[1].imshow(image, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    axes[1].plot(centre[0] - 1, centre[1] - 1, "r+", ms=10)
    axes[1].set_title(f"generated; centre ({centre[0]:g}, {centre[1]:g})", fontsize=9)
    axes[2].imshow(truth, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    axes[2].set_title(f"formula at ({mu_x:g}, {mu_y:g})", fontsize=9)
    for ax in axes[1:]:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig


def composition_browser(models: Sequence[ModelSpec], name: str = MODEL_NAME, seed: int = 0):
    """ipywidgets (live kernel only, never the figure of record): choose a model and (mu_x, mu_y), inside
    or outside the frame; shows :func:`browser_figure` of the image :func:`generate_at` draws there."""
    table = by_key(models)
    cache: dict = {}
    out = widgets.Output()
    first = models[0]
    lo = -max(m.data.margin for m in models)
    hi = first.data.n - lo
    controls = {
        "key": widgets.Dropdown(options=list(table), value=first.key, description="model"),
        "mu_x": widgets.FloatSlider(value=first.data.n / 2, min=lo, max=hi, step=0.25, description="mu_x"),
        "mu_y": widgets.FloatSlider(value=first.data.n / 2, min=lo, max=hi, step=0.25, description="mu_y"),
    }

    def show(key: str, mu_x: float, mu_y: float) -> None:
        image, centre = generate_at(table[key], mu_x, mu_y, name, seed, cache)
        with out:
            out.clear_output(wait=True)
            browser_figure(table[key], mu_x, mu_y, image, centre)
            plt.show()

    widgets.interactive_output(show, controls)
    return widgets.VBox([widgets.HBox(list(controls.values())), out])
