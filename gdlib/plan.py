"""What a profile would train, read from the notebooks themselves: their configs, model shapes and cost.

:func:`notebook_configs` executes a notebook's ``parameters`` cell, the profile's values (as the runner
would inject them) and the notebook's set-up cell (the first code cell after the parameters, which builds the
configs of everything the notebook trains), in a fresh namespace with outputs in a temporary folder, and
collects every :class:`~gdlib.training.TrainConfig` it built. Nothing is trained. So a typo in a profile, or a
config the paper's scale cannot build, fails here, on the CPU, without a GPU (``tests/test_plan.py`` runs it
for every notebook of the ``full`` and ``gpu-check`` profiles).

:func:`training_images` and :func:`projected_hours` turn a profile's configs into its cost: the images its
models see in training, and the hours that takes at a measured training rate (images per second).
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from gdlib.config import TrainConfig
from gdlib.datasets import training_labels

#: The notebooks that train models (03 and 04 analyse notebook 02's; 01 trains nothing).
TRAINING_NOTEBOOKS = ("02", "05", "06", "07")
#: The names under which the set-up cells keep what they will train (02: ``cfg``; 05: ``all_models``, every seed's;
#: 06: ``points``; 07: ``all_configs``, every seed's). Templates (``base``, ``template``) are TrainConfigs too, but
#: never trained.
TRAINED_NAMES = ("cfg", "all_models", "points", "all_configs")


def _cells(notebook: Path) -> tuple[str, str]:
    """The source of the ``parameters`` cell and of the first code cell after it (the set-up cell)."""
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    index = next(i for i, c in enumerate(code) if "parameters" in c.metadata.get("tags", []))
    return code[index].source, code[index + 1].source


def _walk(value: Any) -> Iterator[TrainConfig]:
    """Every TrainConfig inside ``value`` (itself, or held by a list, dict or an object's ``config``)."""
    if isinstance(value, TrainConfig):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _walk(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _walk(v)
    elif isinstance(getattr(value, "config", None), TrainConfig):
        yield value.config


def notebook_configs(notebook: str | os.PathLike, profile: str, overrides: dict[str, Any] | None = None,
                     profiles_dir: str | os.PathLike | None = None) -> list[TrainConfig]:
    """The distinct TrainConfigs that ``notebook``'s set-up cell builds under ``profile`` for training (those it
    keeps under :data:`TRAINED_NAMES`), in build order.

    The values are merged and type-checked as the runner does it (common < the notebook's section < runner
    values < ``overrides``; :mod:`gdlib.parameters`), restricted to the names the parameters cell declares. The
    set-up cell runs with its output (prints) captured and OUTPUT_DIR in a temporary folder that is removed
    afterwards.
    """
    from gdlib import parameters as params

    notebook = Path(notebook)
    parameters_src, setup_src = _cells(notebook)
    saved = os.environ.get("GDLIB_OUTPUTS")
    defaults = params.declared(notebook)
    with tempfile.TemporaryDirectory(prefix="gdlib-plan-") as out:
        values = params.merge_parameters(params.load_profile(profile, profiles_dir), notebook.stem, defaults, profile,
                                         out, overrides)
        values = {k: v if k in ("PROFILE", "OUTPUT_DIR", "INTERACTIVE") else
                  params.check(k, v, defaults[k], notebook.stem, f"profile {profile!r}") for k, v in values.items()}
        namespace: dict[str, Any] = {"__name__": f"gdlib_plan_{notebook.stem}"}
        try:
            with contextlib.redirect_stdout(io.StringIO()):
                exec(compile(parameters_src, f"{notebook.name}:parameters", "exec"), namespace)
                namespace.update(values)
                exec(compile(setup_src, f"{notebook.name}:set-up", "exec"), namespace)
        finally:
            if saved is None:
                os.environ.pop("GDLIB_OUTPUTS", None)
            else:
                os.environ["GDLIB_OUTPUTS"] = saved
    found: dict[str, TrainConfig] = {}
    for name in TRAINED_NAMES:
        for cfg in _walk(namespace.get(name)):
            found.setdefault(cfg.key(), cfg)
    return list(found.values())


def model_shape(cfg: TrainConfig) -> tuple:
    """What fixes the network's tensors: (N, width, heads, attention resolutions, encoding size)."""
    return cfg.data.n, cfg.width, cfg.heads, cfg.attention_resolutions, cfg.enc_dim


def training_images(configs: Iterable[TrainConfig]) -> int:
    """Images seen in training by all ``configs`` together: optimiser steps x batch size."""
    return sum(c.total_steps(len(training_labels(c.data))) * c.batch_size for c in configs)


def projected_hours(configs: Iterable[TrainConfig], images_per_second: float) -> float:
    """Hours to train ``configs`` one after another at ``images_per_second`` (evaluations not included)."""
    return training_images(configs) / images_per_second / 3600.0


def training_rate(configs: Iterable[TrainConfig], name: str) -> float:
    """Images per second over the finished runs of ``configs`` under ``name``: images trained / the runs' own
    wall time (metrics.csv, evaluations included, so a lower bound on the training rate). NaN if none ran."""
    from gdlib.runs import is_trained, load_metrics

    images, seconds = 0, 0.0
    for cfg in configs:
        if not is_trained(cfg, name):
            continue
        wall = load_metrics(cfg, name)["wall_s"]
        images += cfg.total_steps(len(training_labels(cfg.data))) * cfg.batch_size
        seconds += float(wall[-1]) if len(wall) else 0.0
    return images / seconds if seconds > 0 else float("nan")


def projection(configs: Iterable[TrainConfig], name: str, notebook: str, profile: str = "full") -> str:
    """One line: the rate measured on ``configs`` and the hours ``profile`` would take to train ``notebook``'s
    models at that rate, one model at a time on this device (what notebooks print under ``gpu-check``)."""
    from gdlib.runner import discover_notebooks

    rate = training_rate(list(configs), name)
    target = notebook_configs(discover_notebooks()[notebook[:2]], profile)
    return (f"measured {rate:,.0f} training images/s (evaluations included); profile {profile!r} trains "
            f"{len(target)} model(s) on {training_images(target) / 1e6:,.1f} M images: about "
            f"{projected_hours(target, rate):,.1f} hours at this rate, one model at a time")


__all__ = ["TRAINING_NOTEBOOKS", "TRAINED_NAMES", "notebook_configs", "model_shape", "training_images",
           "projected_hours", "training_rate", "projection"]
