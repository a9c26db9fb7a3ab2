"""The objects a training run consists of (model, EMA, optimiser, lr schedule, generator): fresh at step 0, or
loaded from a saved state: this run's ``last.pt`` / ``last.prev.pt`` (:mod:`gdlib.training`) or a shorter finished
run's ``end.pt`` (:mod:`gdlib.continuation`)."""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Callable
from pathlib import Path

import torch

from gdlib import device as _device
from gdlib.config import TrainConfig
from gdlib.continuation import checkpoint_copies, end_state_path, read_checkpoints, shorter_runs, write_checkpoints
from gdlib.paths import CorruptFileWarning, describe_error, move_aside
from gdlib.runs import run_dir


def lr_factor(cfg: TrainConfig, total: int) -> Callable[[int], float]:
    """The lr multiplier by step: a linear warm-up over ``warmup_steps``, then constant or a cosine decay to 0 at
    ``total`` (App. A.6 leaves the schedule open; each profile names its choice)."""
    def factor(step: int) -> float:
        warm = min(1.0, (step + 1) / cfg.warmup_steps) if cfg.warmup_steps else 1.0
        if cfg.lr_schedule == "constant":
            return warm
        progress = min(1.0, max(0.0, (step - cfg.warmup_steps) / max(1, total - cfg.warmup_steps)))
        return warm * 0.5 * (1 + math.cos(math.pi * progress))

    return factor


def fresh_state(cfg: TrainConfig, total: int, device: torch.device) -> tuple:
    """(model, EMA or None, optimizer, lr scheduler, generator) at step 0."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        model = _device.prepare_model(cfg.make_model(), device)
    ema = copy.deepcopy(model).requires_grad_(False) if cfg.ema_decay > 0 else None
    fused = _device.fused_adamw(cfg.width, device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, fused=fused,
                                  foreach=not fused)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor(cfg, total))
    generator = torch.Generator(device=device).manual_seed(cfg.seed)
    return model, ema, optimizer, scheduler, generator


def load_state(path: Path, objects: tuple, device: torch.device) -> dict:
    """Load the resumable state in ``path`` into the training ``objects`` of :func:`fresh_state`; the state."""
    model, ema, optimizer, scheduler, generator = objects
    state = torch.load(path, map_location=device, weights_only=False)
    model.load_state_dict(state["model"])
    if ema is not None:
        ema.load_state_dict(state["ema"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    generator.set_state(state["generator"].cpu())
    _ = state["step"], state["perm"], state["rows"], state["loss_sum"], state["n_in_sum"]
    return state


def resume_state(cfg: TrainConfig, name: str, total: int, steps_per_epoch: int,
                 device: torch.device) -> tuple[tuple, dict | None, TrainConfig | None]:
    """The training objects, the saved state they were loaded from and the shorter run they continue: ``last.pt``,
    else ``last.prev.pt``, else the end state of the longest shorter finished run whose files are whole
    (:mod:`gdlib.continuation`; its checkpoints at this run's curve points are copied here), else a fresh start
    (state None). An unreadable state file of this run is moved aside with a warning; the files of another run are
    left where they are (with a warning when one cannot be used)."""
    folder = run_dir(cfg, name)
    candidates = [folder / "last.pt", folder / "last.prev.pt"]
    for i, path in enumerate(candidates):
        if not path.exists():
            continue
        objects = fresh_state(cfg, total, device)
        try:
            return objects, load_state(path, objects, device), None
        except Exception as err:  # a truncated or damaged file, or one missing a part
            later = [c for c in candidates[i + 1:] if c.exists()]
            move_aside(path, err, f"resuming from {later[0].name}, the state saved before it" if later else
                       "training starts again from step 0 (the same config trains to the same weights)")
    for shorter in shorter_runs(cfg, name):
        path, objects = end_state_path(shorter, name), fresh_state(cfg, total, device)
        try:
            files = read_checkpoints(checkpoint_copies(shorter, cfg, name, steps_per_epoch))
            state = load_state(path, objects, device)
        except Exception as err:  # a missing or damaged file, or a state saved on another kind of device
            warnings.warn(f"the {shorter.steps}-step run {run_dir(shorter, name)} cannot be continued "
                          f"({describe_error(err)}); its files are left as they are", CorruptFileWarning, stacklevel=2)
            continue
        write_checkpoints(files)
        return objects, state, shorter
    return fresh_state(cfg, total, device), None, None


__all__ = ["lr_factor", "fresh_state", "load_state", "resume_state"]
