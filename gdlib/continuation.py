"""A longer run continues a shorter finished one: the model cache shared between training lengths.

With a constant learning rate (``lr_schedule="constant"``, after its step-indexed warm-up) nothing a training
step does depends on how many steps the run will take: the batch order and the noise come from one seeded
generator, the lr from the step number. So the first S steps of an S' > S step run are exactly the S-step run,
and a config that differs from a finished run only in ``steps`` (and the learning-curve ``checkpoint_steps``)
can start from that run's end state instead of from step 0, and ends with exactly the weights it would have
reached alone (tests check it, bit for bit on the CPU). This is how the ``extended`` profile reuses the models of
``quick`` that it trains twice as long, and how a researcher takes a still-learning curve one doubling further
for the cost of that doubling alone.

A finished constant-schedule run keeps its end state (model, EMA, optimiser, generator, batch order, metrics rows:
the resumable state of :mod:`gdlib.training` after its last step, taken before what only the end of a run writes,
such as a cut-short epoch's row and the final evaluation) in ``end.pt`` beside ``final.pt``: about four times the
weights (6 MB at width 8, kept as long as the run). A cosine schedule depends on the total, so its runs keep no end
state and are never continued (the ``full`` and ``gpu-check`` profiles use it). A run trained by ``epochs`` is not
continued either: its checkpoints are named by epochs of the total.

The continued run has the metrics rows and the wall time of the shorter run up to its last step (so its
``metrics.csv`` is the one it would write alone, but for the wall times), and copies of the shorter run's weights
at its own checkpoint steps and epochs, so its learning curve is complete. A shorter run whose end state or one of
those checkpoints is missing or damaged, or was saved on another kind of device, is passed over (with a warning)
for the next longest, and its files are left as they are.
"""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import torch

from gdlib.config import TrainConfig
from gdlib.paths import atomic_write_bytes
from gdlib.runs import checkpoint_path, finished_runs, run_dir, step_point


def continuable(cfg: TrainConfig) -> bool:
    """Whether runs of ``cfg``'s kind can be continued: trained by ``steps`` with a constant learning rate."""
    return cfg.steps > 0 and cfg.lr_schedule == "constant"


def end_state_path(cfg: TrainConfig, name: str) -> Path:
    """``end.pt``: the resumable state of a finished continuable run at its last step."""
    return run_dir(cfg, name) / "end.pt"


def shorter_version(cfg: TrainConfig, other: TrainConfig) -> bool:
    """Whether ``other`` is ``cfg`` with fewer steps, and saved every checkpoint step of ``cfg`` up to its end.

    Every other field must be equal, those outside the cache key included (``log_every``, ``eval_epochs``, the
    sampler): the continued run carries the shorter run's metrics rows, which they shaped. Only the sampling batch
    may differ (the samples do not depend on it)."""
    if not (continuable(cfg) and continuable(other)) or other.steps >= cfg.steps:
        return False
    same = dataclasses.replace(other, steps=cfg.steps, checkpoint_steps=cfg.checkpoint_steps,
                               sample_batch_size=cfg.sample_batch_size)
    if same != cfg:
        return False
    saved = set(other.checkpoint_steps) | {other.steps}
    return all(s in saved for s in cfg.checkpoint_steps if s <= other.steps)


def shorter_runs(cfg: TrainConfig, name: str) -> list[TrainConfig]:
    """The finished runs under ``name`` that ``cfg`` can continue (:func:`shorter_version`, with their end state
    kept), longest first; empty for a run that cannot be continued (nothing is read then)."""
    if not continuable(cfg):
        return []
    found = [other for other in finished_runs(name)
             if shorter_version(cfg, other) and end_state_path(other, name).exists()]
    return sorted(found, key=lambda other: other.steps, reverse=True)


def checkpoint_copies(shorter: TrainConfig, cfg: TrainConfig, name: str,
                      steps_per_epoch: int) -> list[tuple[Path, Path]]:
    """(source, target) for each weights file ``cfg``'s run takes from the shorter run: its checkpoint steps and its
    checkpoint epochs that ended by the shorter run's last step (an epoch the shorter run cut short is saved by the
    longer one, where it ends)."""
    pairs = [(checkpoint_path(shorter, name, "final" if s == shorter.steps else step_point(s)),
              checkpoint_path(cfg, name, step_point(s))) for s in cfg.checkpoint_steps if s <= shorter.steps]
    return pairs + [(checkpoint_path(shorter, name, e), checkpoint_path(cfg, name, e))
                    for e in cfg.checkpoint_epochs if e * steps_per_epoch <= shorter.steps]


def read_checkpoints(pairs: list[tuple[Path, Path]]) -> list[tuple[Path, bytes]]:
    """(target, bytes) of each source, each loaded once to prove it whole: raises for a missing or damaged file."""
    out = []
    for source, target in pairs:
        data = source.read_bytes()
        torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)["model"]
        out.append((target, data))
    return out


def write_checkpoints(files: list[tuple[Path, bytes]]) -> None:
    """Write each file whole or not at all (:func:`gdlib.paths.atomic_write_bytes`)."""
    for target, data in files:
        atomic_write_bytes(target, data)


__all__ = ["continuable", "end_state_path", "shorter_version", "shorter_runs", "checkpoint_copies", "read_checkpoints",
           "write_checkpoints"]
