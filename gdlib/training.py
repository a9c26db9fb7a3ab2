"""The training loop (Ho et al. Algorithm 1) and ``get_or_train``: a cache of trained models with resume.

``get_or_train(cfg, name="torus")`` returns the trained model of ``cfg`` (:mod:`gdlib.config`): from its run
folder (:mod:`gdlib.runs`) when that run finished before, else it trains, resuming from ``last.pt`` when a
previous attempt was killed. ``last.pt`` holds the model, EMA, optimizer, lr scheduler, step, epoch
permutation, metric rows and the generator state, written atomically; ``last.prev.pt`` holds the state saved
before it, from which training resumes when ``last.pt`` cannot be read (moved aside with a warning). Both are
deleted once ``final.pt`` exists; a constant-schedule run keeps its last state as ``end.pt``, from which a longer
run of the same config continues (:mod:`gdlib.continuation`).

The whole dataset lives on the device as one uint8 tensor; each batch is indexed from a permutation
drawn by a seeded ``torch.Generator`` (which also draws t and the noise) and mapped to [-1, 1] there.
On the CPU a resumed run ends with exactly the weights of an uninterrupted one (tests check it), and
the run uses ``cfg.threads`` intra-op threads whatever the machine (:attr:`TrainConfig.threads`).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from gdlib import device as _device
from gdlib import diffusion
from gdlib import progress as _progress
from gdlib.config import TrainConfig
from gdlib.continuation import continuable, end_state_path
from gdlib.datasets import make_dataset
from gdlib.locks import RunLock
from gdlib.model import UNet
from gdlib.paths import atomic_write_bytes, atomic_write_json
from gdlib.runs import (
    cached_evaluation,
    checkpoint_path,
    eval_path,
    is_trained,
    load_checkpoint,
    lock_path,
    run_dir,
    sample_and_score,
    save_evaluation,
    step_point,
    torch_bytes,
    write_metrics,
)
from gdlib.training_state import resume_state

StepHook = Callable[[int, float], None]


class NonFiniteLoss(FloatingPointError):
    """The training loss became NaN or infinite."""


class Interrupted(RuntimeError):
    """Raised by :func:`interrupt_after` to stop a run after a given step (its resumable state is saved)."""


def interrupt_after(step: int) -> StepHook:
    """An ``on_step`` hook that stops training after ``step`` optimizer steps, as a crash would, so that the
    next call resumes from the saved state (with ``save_every=step``): how the gpu-check profile exercises
    checkpoint + resume."""
    def hook(done: int, _loss: float) -> None:
        if done >= step:
            raise Interrupted(f"training interrupted after step {done} (to be resumed)")

    return hook


def ensure_trained(cfg: TrainConfig, name: str, progress: bool | None = None,
                   device: torch.device | str | None = None, save_every: int | None = None,
                   save_interval_s: float = 120.0, on_step: StepHook | None = None) -> bool:
    """Train ``cfg`` unless its run finished before; True when this call trained it.

    Only one process trains a given run at a time (a :class:`~gdlib.locks.RunLock` that says who
    holds it and is taken over when its holder is gone); one that waited finds the run finished.
    """
    if is_trained(cfg, name):
        return False
    with RunLock(lock_path(cfg, name), what=f"model {name}/{cfg.key()}"):
        if is_trained(cfg, name):  # another process finished it while we waited
            return False
        train(cfg, name, progress, device, save_every, save_interval_s, on_step)
        return True


def get_or_train(cfg: TrainConfig, name: str, progress: bool | None = None,
                 device: torch.device | str | None = None, save_every: int | None = None,
                 save_interval_s: float = 120.0, on_step: StepHook | None = None) -> UNet:
    """The trained model of ``cfg`` (sampling weights, eval mode): loaded from the cache, or trained.

    ``progress``: tqdm bar (None = tqdm's default: shown on a terminal). Resumable state is written
    every ``save_every`` steps when given, and at epoch ends once ``save_interval_s`` seconds have
    passed since the last save. ``on_step(step, loss)`` is called after every optimizer step (the
    tests inject a crash with it). Only one process trains a given run at a time (:func:`ensure_trained`).
    """
    ensure_trained(cfg, name, progress, device, save_every, save_interval_s, on_step)
    return load_checkpoint(cfg, name, "final", device)


def train(cfg: TrainConfig, name: str, progress: bool | None = None,
          device: torch.device | str | None = None, save_every: int | None = None,
          save_interval_s: float = 120.0, on_step: StepHook | None = None) -> Path:
    """Train ``cfg`` into its run folder (resuming from ``last.pt``) with ``cfg.threads`` CPU threads;
    returns the folder. Prefer :func:`get_or_train`, which also takes the lock and skips finished runs."""
    with _device.threads(cfg.threads):
        run = Run(cfg, name, _device.get_device(device), progress)
        run.loop(save_every, save_interval_s, on_step)
        return run.finish()


class Run:
    """One training run in progress: its data, model, optimiser, counters and what it writes to its folder.

    :func:`train` makes one, runs :meth:`loop` and :meth:`finish`. Counters: ``step`` (optimizer steps
    done, counted from 1 as in metrics.csv), ``loss_sum`` / ``n_in_sum`` (the training loss summed since
    the last metrics row), ``rows`` (the metrics rows, also saved in ``last.pt``)."""

    def __init__(self, cfg: TrainConfig, name: str, device: torch.device, progress: bool | None):
        self.cfg, self.name, self.device = cfg, name, device
        self.folder = run_dir(cfg, name)
        self.folder.mkdir(parents=True, exist_ok=True)
        atomic_write_json(self.folder / "config.json", {"name": name, "key": cfg.key(), "config": cfg.to_dict()})
        data = make_dataset(cfg.data)
        self.images = torch.from_numpy(np.ascontiguousarray(data.images)).to(device).unsqueeze(1)  # uint8
        self.labels = torch.from_numpy(np.ascontiguousarray(data.labels, dtype=np.float32)).to(device)
        self.m = len(self.images)
        if self.m == 0:
            raise ValueError(f"data = {cfg.data} is not allowed: the training set is empty")
        self.spe, self.total = cfg.steps_per_epoch(self.m), cfg.total_steps(self.m)
        self.schedule = cfg.schedule()
        (self.model, self.ema, self.optimizer, self.scheduler, self.generator), state, shorter = \
            resume_state(cfg, name, self.total, self.spe, device)
        self.end_state: bytes | None = None  # the state a longer run continues from (gdlib.continuation)
        if shorter is not None:
            _progress.note(f"{name}/{cfg.key()} continues the finished {shorter.steps}-step run {shorter.key()} "
                           f"(gdlib.continuation)")
        self.sampling_model = self.ema if self.ema is not None else self.model
        self.step, self.perm, self.rows, resumed_loss = 0, None, [], (0.0, 0)
        if state is not None:
            self.step, self.perm, self.rows = state["step"], state["perm"], state["rows"]
            self.perm = self.perm.to(device) if self.perm is not None else None
            resumed_loss = (state["loss_sum"], state["n_in_sum"])
        self.last, self.previous = self.folder / "last.pt", self.folder / "last.prev.pt"
        self.t_start = self.metrics_written = time.perf_counter()
        self.wall_before = self.rows[-1]["wall_s"] if self.rows else 0.0
        if self.step == 0 and self.perm is None:
            self.at_epoch_end(0, None)
        # shown as progress says; mirrored to ./run_all.sh's terminal whatever it says (gdlib.progress)
        self.bar = _progress.bar(self.total, f"training {name}/{cfg.key()}", visible=progress, initial=self.step)
        self.loss_sum = torch.full((), resumed_loss[0], device=device)
        self.bad_step = torch.full((), -1, dtype=torch.long, device=device)
        self.n_in_sum, self.last_save = resumed_loss[1], time.perf_counter()

    def wall(self) -> float:
        """Seconds of this run so far, resumed attempts included (evaluations included)."""
        return round(time.perf_counter() - self.t_start + self.wall_before, 2)

    def state(self) -> bytes:
        """The resumable state, serialised: everything the next step depends on."""
        ema = self.ema.state_dict() if self.ema is not None else None
        return torch_bytes({
            "model": self.model.state_dict(), "ema": ema, "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(), "generator": self.generator.get_state(), "step": self.step,
            "perm": self.perm, "rows": self.rows, "loss_sum": float(self.loss_sum), "n_in_sum": self.n_in_sum,
            "config": self.cfg.to_dict(),
        })

    def save_resumable(self) -> None:
        if self.last.exists():  # keep the state before it: the fallback should this one ever be unreadable
            os.replace(self.last, self.previous)
        atomic_write_bytes(self.last, self.state())
        self.last_save = time.perf_counter()

    def save_weights(self, path: Path, epoch: int | str) -> None:
        atomic_write_bytes(path, torch_bytes({"model": self.sampling_model.state_dict(), "epoch": epoch,
                                              "step": self.step, "config": self.cfg.to_dict()}))

    def at_epoch_end(self, epoch: int, loss_mean: float | None) -> None:
        cfg = self.cfg
        row = {"step": self.step, "epoch": epoch, "loss": loss_mean, "lr": self.optimizer.param_groups[0]["lr"]}
        if epoch in cfg.checkpoint_epochs:
            self.save_weights(checkpoint_path(cfg, self.name, epoch), epoch)
        if epoch in cfg.eval_epochs:
            ev = sample_and_score(self.sampling_model, cfg, epoch, cfg.eval_layers)
            save_evaluation(eval_path(cfg, self.name, epoch), ev)
            row.update(accuracy=ev.accuracy, accuracy_x=ev.accuracy_x, accuracy_y=ev.accuracy_y)
        row["wall_s"] = self.wall()
        if loss_mean is not None or "accuracy" in row:
            self.rows.append(row)
        # metrics.csv is a progress view (last.pt holds the rows for resuming): rewriting it at every epoch
        # end costs ~20 ms with fsync, which dominates tiny datasets whose epochs are one or two steps.
        if "accuracy" in row or epoch in cfg.checkpoint_epochs or time.perf_counter() - self.metrics_written > 30:
            write_metrics(self.folder / "metrics.csv", self.rows)
            self.metrics_written = time.perf_counter()

    def check_finite(self) -> None:
        bad = int(self.bad_step)
        if bad >= 0:
            raise NonFiniteLoss(f"the training loss became NaN or infinite at step {bad} "
                                f"(epoch {math.ceil(bad / self.spe)}) of run {self.name}/{self.cfg.key()}")

    def optimise(self) -> torch.Tensor:
        """One optimizer step on the next batch (Ho et al. Algorithm 1), then the EMA update; the loss."""
        cfg, i = self.cfg, self.step % self.spe
        if i == 0 or self.perm is None:
            self.perm = torch.randperm(self.m, device=self.device, generator=self.generator)
        idx = self.perm[i * cfg.batch_size:(i + 1) * cfg.batch_size]
        x0 = self.images[idx].float().div_(127.5).sub_(1.0)
        loss = diffusion.loss(self.model, self.schedule, x0, self.labels[idx], self.generator)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip)
        self.optimizer.step()
        self.scheduler.step()
        if self.ema is not None:
            with torch.no_grad():
                torch._foreach_lerp_(list(self.ema.parameters()), list(self.model.parameters()), 1.0 - cfg.ema_decay)
        loss = loss.detach()
        self.step += 1
        self.bad_step = torch.where((self.bad_step < 0) & ~torch.isfinite(loss), self.step, self.bad_step)
        self.loss_sum += loss
        self.n_in_sum += 1
        return loss

    def log(self, epoch_done: bool) -> None:
        """A metrics row: the loss since the last row, at every ``log_every`` steps and epoch end."""
        self.check_finite()
        loss_mean = float(self.loss_sum) / self.n_in_sum
        self.loss_sum.zero_()
        self.n_in_sum = 0
        self.bar.set_postfix(loss=f"{loss_mean:.4f}")
        if epoch_done:
            self.at_epoch_end(math.ceil(self.step / self.spe), loss_mean)
        else:
            self.rows.append({"step": self.step, "epoch": round(self.step / self.spe, 3), "loss": loss_mean,
                              "lr": self.optimizer.param_groups[0]["lr"], "wall_s": self.wall()})

    def loop(self, save_every: int | None, save_interval_s: float, on_step: StepHook | None) -> None:
        """Train until ``total`` steps, logging, saving the resumable state and calling ``on_step``."""
        self.model.train()
        try:
            while self.step < self.total:
                loss = self.optimise()
                self.bar.update(1)
                if self.step in self.cfg.checkpoint_steps:  # a point of the learning curve (gdlib.curves)
                    self.save_weights(checkpoint_path(self.cfg, self.name, step_point(self.step)),
                                      step_point(self.step))
                if on_step is not None:
                    on_step(self.step, float(loss))
                epoch_done = self.step % self.spe == 0
                due = bool(save_every and self.step % save_every == 0)
                if self.step % self.cfg.log_every == 0 or epoch_done:  # as in a run of any length
                    self.log(epoch_done)
                    if due or (epoch_done and time.perf_counter() - self.last_save > save_interval_s):
                        self.save_resumable()
                elif due:
                    self.check_finite()
                    self.save_resumable()
            self.end_run()
        finally:
            self.bar.close()

    def end_run(self) -> None:
        """After the last step: keep the state a longer run continues from (what a run of any length has after this
        step), then close an epoch the run cut short (its row, checkpoint and evaluation, as at an epoch's end)."""
        self.check_finite()
        if continuable(self.cfg):
            self.end_state = self.state()
        if self.step % self.spe:
            if self.n_in_sum:
                self.log(True)
            else:  # the loss since the last row was logged at this very step
                self.at_epoch_end(math.ceil(self.step / self.spe), None)

    def finish(self) -> Path:
        """The final evaluation (always measured), ``end.pt`` (the state :meth:`end_run` kept), ``final.pt``, and the
        resumable state removed."""
        self.check_finite()
        cfg, name = self.cfg, self.name
        final_epoch = math.ceil(self.step / self.spe)
        if final_epoch not in cfg.eval_epochs:
            ev = sample_and_score(self.sampling_model, cfg, "final", cfg.eval_layers)
            self.rows.append({"step": self.step, "epoch": final_epoch, "lr": self.optimizer.param_groups[0]["lr"],
                              "accuracy": ev.accuracy, "accuracy_x": ev.accuracy_x, "accuracy_y": ev.accuracy_y,
                              "wall_s": self.wall()})
            write_metrics(self.folder / "metrics.csv", self.rows)
        else:
            ev = cached_evaluation(eval_path(cfg, name, final_epoch), cfg, "final") \
                or sample_and_score(self.sampling_model, cfg, "final", cfg.eval_layers)
        save_evaluation(eval_path(cfg, name, "final"), ev)
        if self.end_state is not None:  # a longer run of this config may start here (gdlib.continuation)
            atomic_write_bytes(end_state_path(cfg, name), self.end_state)
        self.save_weights(checkpoint_path(cfg, name, "final"), "final")
        self.last.unlink(missing_ok=True)
        self.previous.unlink(missing_ok=True)
        return self.folder


__all__ = ["NonFiniteLoss", "Interrupted", "interrupt_after", "ensure_trained", "get_or_train", "train", "Run"]
