"""ipywidgets browsers for a live kernel. Never the figure of record: notebooks save static figures too."""

from __future__ import annotations

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np

from gdlib.datasets import CATEGORIES, Dataset, DatasetConfig, make_dataset


def dataset_browser(cfg: DatasetConfig | Dataset) -> widgets.Widget:
    """Sliders over (mu_x, mu_y) showing the training image nearest to that centre and its tag."""
    ds = cfg if isinstance(cfg, Dataset) else make_dataset(cfg)
    lo, hi = float(ds.labels.min()), float(ds.labels.max())
    step = float(min(ds.config.d))
    out = widgets.Output()

    def show(mu_x: float, mu_y: float) -> None:
        i = int(np.argmin(np.abs(ds.labels - np.array([mu_x, mu_y])).sum(axis=1)))
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
