"""A longer run continues a shorter finished one: the model cache shared between training lengths.

With a constant learning rate (``lr_schedule="constant"``, after its step-indexed warm-up) nothing a training
step does depends on how many steps the run will take: the batch order and the noise come from one seeded
generator, the lr from the step number. So the first S steps of an S' > S step run are exactly the S-step run,
and a config that differs from a finished run only in ``steps`` (and the learning-curve ``checkpoint_steps``)
can start from that run's end state instead of from step 0, and ends with exactly the weights it would have
reached alone (tests check it, bit for bit on the CPU). This is how the ``extended`` profile reuses the models of
``quick`` that it trains twice as long, and how a researcher takes a still-learning curve one doubling further
for the cost of that doubling alone.

A finished constant-schedule run keeps its end state (model, EMA, optimiser, generator, batch order: the
resumable state of :mod:`gdlib.training` at its last step) in ``end.pt`` beside ``final.pt``; about four times
the weights (6 MB at width 8). A cosine schedule depends on the total, so its runs keep no end state and are
never continued (the ``full`` and ``gpu-check`` profiles use it). A run trained by ``epochs`` is not continued
either: its checkpoints are named by epochs of the total.

The continued run carries the shorter run's metrics rows (its final evaluation row included) and its wall time,
and gets copies of the shorter run's checkpoints that fall on its own checkpoint steps (the shorter run's
``final.pt`` is the weights after its last step), so its learning curve is complete.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

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
    """Whether ``other`` is ``cfg`` with fewer steps, and saved every checkpoint step of ``cfg`` up to its end."""
    if not (continuable(cfg) and continuable(other)) or other.steps >= cfg.steps:
        return False
    if dataclasses.replace(other, steps=cfg.steps, checkpoint_steps=cfg.checkpoint_steps).key() != cfg.key():
        return False
    saved = set(other.checkpoint_steps) | {other.steps}
    return all(s in saved for s in cfg.checkpoint_steps if s <= other.steps)


def continued_from(cfg: TrainConfig, name: str) -> TrainConfig | None:
    """The longest finished run under ``name`` that ``cfg`` continues (:func:`shorter_version`, with its end state
    kept), or None: ``cfg`` then trains from step 0."""
    found = [other for other in finished_runs(name)
             if shorter_version(cfg, other) and end_state_path(other, name).exists()]
    return max(found, key=lambda other: other.steps, default=None)


def copy_checkpoints(shorter: TrainConfig, cfg: TrainConfig, name: str, steps_per_epoch: int) -> list[Path]:
    """Copy into ``cfg``'s run folder the shorter run's weights at ``cfg``'s checkpoint steps and at its checkpoint
    epochs that ended by the shorter run's last step (an epoch the shorter run cut short is saved by the longer
    one, where it ends); each copy written whole or not at all. The files written."""
    pairs = [(checkpoint_path(shorter, name, "final" if s == shorter.steps else step_point(s)),
              checkpoint_path(cfg, name, step_point(s))) for s in cfg.checkpoint_steps if s <= shorter.steps]
    pairs += [(checkpoint_path(shorter, name, e), checkpoint_path(cfg, name, e))
              for e in cfg.checkpoint_epochs if e * steps_per_epoch <= shorter.steps]
    for source, target in pairs:
        atomic_write_bytes(target, source.read_bytes())
    return [target for _, target in pairs]


__all__ = ["continuable", "end_state_path", "shorter_version", "continued_from", "copy_checkpoints"]
