"""Learning curves of the generalisation claims, the still-learning gate, and their record for the report.

A claim about held-out data judged while its number is still rising reports the training length, not the claim
(issue 20): at quick the 2D+1D model of notebook 05 fits its training set by 1,400 steps (91% in-distribution) and
composes nothing, and composes by 11,200 steps (measured 2026-12-06 on a 2-core EPYC). So each model a
generalisation claim rests on saves its weights at fractions of its own run (:data:`CURVE_FRACTIONS` of its optimiser
steps, :func:`run_steps`, through ``TrainConfig.checkpoint_steps``: :func:`with_curve`); each checkpoint is sampled and
scored exactly as the final weights are (same sampler, same noise, same regions), which gives a :class:`Curve`; and
:func:`still_learning` turns the curve into a :class:`~gdlib.claims.Gate`: the claim is decided only when, between
the last two points of the curve (at least 2x apart in steps), its number changed by less than
:data:`STILL_LEARNING_TOLERANCE`. Otherwise its verdict is "not decided: still learning at S steps"
(:func:`gdlib.claims.verdict`, no branch of its own).

The curve is one run's checkpoints, not separate shorter runs: under a constant learning rate (quick) the weights at
S/2 are those of an S/2-step run; under a decaying one (cosine, full) they are not, and the curve is the run's own.
The controls (copier, oracle, blank, average) do not train, so each is one number beside the curve.

:func:`save_curves` writes ``outputs/curves/<notebook>.json``; :func:`report_lines` gives REPORT.md's section
"What more compute does" (:mod:`gdlib.report`) from every notebook's record.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from gdlib.checks import check_range
from gdlib.claims import Gate
from gdlib.config import TrainConfig
from gdlib.paths import atomic_write_json, outputs_dir
from gdlib.runs import step_point
from gdlib.tables import pct

#: The checkpoints of a curve, as fractions of the run's steps; with the end, four points spanning 8x.
CURVE_FRACTIONS = (0.125, 0.25, 0.5)
#: Fixed before any curve was measured (issue 20, item 3): a claim's number that moved by 5 points or more between
#: the last two points of its curve (S/2 and S) is still learning. 5 points is a third of the 15 points that quick's
#: notebook 05 already calls noise between models (16-112 samples per test region); the points of one curve are
#: sampled from the same noise, so their difference is less noisy than that between two models.
STILL_LEARNING_TOLERANCE = 0.05


def curve_steps(steps: int, fractions: Sequence[float] = CURVE_FRACTIONS) -> tuple[int, ...]:
    """The checkpoint steps of a run of ``steps`` optimiser steps: ``max(1, floor(f * steps))`` for each fraction,
    those below ``steps`` (the end is the run's final weights)."""
    for f in fractions:
        check_range("curve fraction", f, 0, 1, low_open=True, high_open=True)
    return tuple(sorted({max(1, math.floor(f * steps)) for f in fractions} - {steps}))


def run_steps(cfg: TrainConfig, n_images: int | None = None) -> int:
    """The optimiser steps of the run of ``cfg``: ``cfg.steps`` for a run trained by steps (notebook 05); for one
    trained by epochs (notebook 07's equal batches) ``TrainConfig.total_steps`` of its ``n_images`` training
    images, which must then be given (the one place a curve turns epochs into steps)."""
    if cfg.steps > 0:
        return cfg.steps
    if n_images is None:
        raise ValueError(f"steps = {cfg.steps} is not allowed for a learning curve without n_images: the run trains "
                         f"by epochs ({cfg.epochs}), so its steps depend on its number of training images")
    return cfg.total_steps(n_images)


def with_curve(cfg: TrainConfig, fractions: Sequence[float] = CURVE_FRACTIONS,
               n_images: int | None = None) -> TrainConfig:
    """``cfg`` saving its weights at :func:`curve_steps` of its :func:`run_steps` (``n_images``: the size of its
    training set, for a run trained by epochs)."""
    return replace(cfg, checkpoint_steps=curve_steps(run_steps(cfg, n_images), fractions))


def points(cfg: TrainConfig, n_images: int | None = None) -> list[tuple[int, int | str]]:
    """``(steps, checkpoint)`` of each point of the curve of ``cfg``: its checkpoint steps, then ``"final"`` at
    :func:`run_steps`."""
    return [(s, step_point(s)) for s in cfg.checkpoint_steps] + [(run_steps(cfg, n_images), "final")]


@dataclass(frozen=True)
class Curve:
    """A claim's number (``metric``) for one ``model`` at increasing optimiser ``steps``, and each control's value
    (the controls do not train, so each is one number)."""

    model: str
    metric: str
    steps: tuple[int, ...]
    values: tuple[float, ...]
    controls: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "steps", tuple(int(s) for s in self.steps))
        object.__setattr__(self, "values", tuple(float(v) for v in self.values))
        object.__setattr__(self, "controls", {k: float(v) for k, v in self.controls.items()})
        if len(self.steps) != len(self.values) or not self.steps or list(self.steps) != sorted(set(self.steps)):
            raise ValueError(f"steps = {self.steps} is not allowed: must increase, one per value ({self.values})")


def still_learning(curve: Curve, tolerance: float = STILL_LEARNING_TOLERANCE) -> Gate:
    """The still-learning gate of ``curve``: the change of its number from the last point at half its last steps or
    fewer to its last point, which passes when smaller than ``tolerance`` either way (a curve with no such point
    fails: it cannot show that the number stopped moving)."""
    last = curve.steps[-1]
    earlier = [i for i, s in enumerate(curve.steps[:-1]) if 2 * s <= last]
    if not earlier:
        return Gate(curve.model, f"{curve.metric} (no point at {last // 2:,} steps or fewer)", math.nan, tolerance,
                    steps=last)
    i = earlier[-1]
    return Gate(curve.model, f"{curve.metric} from {curve.steps[i]:,} to {last:,} steps",
                curve.values[-1] - curve.values[i], tolerance, steps=last)


# the record and the report ----------------------------------------------------------------------------
def curves_path(notebook: str, root: Path | None = None) -> Path:
    return (outputs_dir() if root is None else Path(root)) / "curves" / f"{notebook}.json"


def save_curves(notebook: str, profile: str, curves: Sequence[Curve],
                tolerance: float = STILL_LEARNING_TOLERANCE) -> Path:
    """Write a notebook's curves (an empty list clears its record: call it first, so a crash leaves no stale one)."""
    path = curves_path(notebook)
    atomic_write_json(path, {"notebook": notebook, "profile": profile, "tolerance": tolerance,
                             "curves": [asdict(c) for c in curves]})
    return path


def load_curves(root: Path | None = None) -> list[tuple[str, str, float, list[Curve]]]:
    """``(notebook, profile, tolerance, curves)`` of every record under ``root/curves``, in notebook order."""
    folder = (outputs_dir() if root is None else Path(root)) / "curves"
    out = []
    for path in sorted(folder.glob("*.json")):
        blob = json.loads(path.read_text())
        out.append((blob["notebook"], blob["profile"], float(blob["tolerance"]),
                    [Curve(**c) for c in blob["curves"]]))
    return out


def report_lines(root: Path | None = None) -> list[str]:
    """REPORT.md's section "What more compute does": per model, its number at the first and last points of its
    curve, the change over the last doubling, the still-learning gate, and the controls beside it."""
    lines = ["## What more compute does", "",
             "Each generalisation claim's number along its model's own training run (its checkpoints and its end, "
             "each sampled like the final weights). A claim is decided only when the number "
             "moved by less than the stated tolerance over the last doubling of steps; the controls do not train.", ""]
    records = [r for r in load_curves(root) if r[3]]
    if not records:
        return lines + ["No learning curves were recorded.", ""]
    for notebook, profile, tolerance, curves in records:
        lines += [f"{notebook} (profile {profile}; tolerance {100 * tolerance:.0f} points):", "",
                  "| model | number | curve (value at steps) | last doubling | gate | controls |",
                  "|---|---|---|---|---|---|"]
        for c in curves:
            gate = still_learning(c, tolerance)
            change = "-" if not math.isfinite(gate.value) else f"{100 * gate.value:+.1f} points"
            controls = ", ".join(f"{k} {pct(v)}" for k, v in c.controls.items())
            curve = " / ".join(f"{pct(v)} at {s:,}" for s, v in zip(c.steps, c.values))
            lines.append(f"| {c.model} | {c.metric} | {curve} | {change} | "
                         f"{'passes' if gate.passed else 'still learning'} | {controls} |")
        lines.append("")
    return lines


__all__ = ["CURVE_FRACTIONS", "STILL_LEARNING_TOLERANCE", "curve_steps", "run_steps", "with_curve", "points",
           "Curve", "still_learning", "curves_path", "save_curves", "load_curves", "report_lines"]
