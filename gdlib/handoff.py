"""Which model notebook 02 trained, named by its config, so that notebooks 03 and 04 analyse that model.

Notebook 02 calls :func:`record_trained` after training: it writes ``outputs/models/<name>/trained_by_02.json``
(atomically) with the config's cache key and the config itself. Notebooks 03 and 04 call :func:`trained_by`,
which reads it back and checks that the run finished. So after ``./run_all.sh --only 02 -p SEED 1`` a later
``--only 03`` analyses the SEED 1 model, whatever other runs under the same name finished later (before, 03 and 04
took the newest ``final.pt`` under the name).
"""

from __future__ import annotations

import json
from pathlib import Path

from gdlib.config import TrainConfig
from gdlib.paths import atomic_write_json, outputs_dir
from gdlib.runs import is_trained, run_dir

NOTEBOOK = "02"


def record_path(name: str, notebook: str = NOTEBOOK) -> Path:
    """``outputs/models/<name>/trained_by_<notebook>.json``, beside the run folders of ``name``."""
    return outputs_dir() / "models" / name / f"trained_by_{notebook}.json"


def record_trained(cfg: TrainConfig, name: str, notebook: str = NOTEBOOK) -> Path:
    """Record that ``notebook`` trained (or found in the cache) the model of ``cfg`` under ``name``."""
    path = record_path(name, notebook)
    atomic_write_json(path, {"notebook": notebook, "name": name, "key": cfg.key(), "config": cfg.to_dict()})
    return path


def trained_by(name: str, notebook: str = NOTEBOOK) -> TrainConfig:
    """The config of the model ``notebook`` last recorded under ``name``; FileNotFoundError, saying what to run,
    when it recorded none or that model's run did not finish."""
    path = record_path(name, notebook)
    if not path.exists():
        raise FileNotFoundError(f"no {path.name} in {path.parent}: run notebook {notebook} first "
                                f"(./run_all.sh --only {notebook}) with the same profile and MODEL_NAME")
    blob = json.loads(path.read_text())
    cfg = TrainConfig.from_dict(blob["config"])
    if cfg.key() != blob["key"]:
        raise ValueError(f"{path} names key {blob['key']} but its config hashes to {cfg.key()}: the config format "
                         "changed since it was written; run notebook 02 again")
    if not is_trained(cfg, name):
        raise FileNotFoundError(f"{path} names the run {run_dir(cfg, name)}, which has no final.pt: run notebook "
                                f"{notebook} again")
    return cfg


__all__ = ["record_path", "record_trained", "trained_by"]
