"""Claim checks measured beside their controls, the verdict rule, and each notebook's record on disk.

A notebook makes one :class:`ClaimLog` (which clears that notebook's old records, so a crash never
leaves the last run's verdicts in the report) and records each claim with :meth:`ClaimLog.check`.
A check is the paper's statement and a criterion fixed in the notebook before the measurement, applied
by one function to every row:

- the **model** (role ``"model"``): what the claim is about;
- **controls** (role ``"control"``): generators or representations that learned nothing (an untrained
  network, isotropic noise, a blank generator, one that copies the nearest training image, a null world
  built from synthetic numbers) and, where the statement is that the model *fails* at something, a
  positive control (the formula's own image at every requested centre, which does not fail). The
  criterion must come out false on every control, or it is not evidence;
- **references** (role ``"reference"``): shown for context, outside the verdict (raw pixels, ideal tori).

**Gates**: a claim about a trained model is decided only when that model learnt what it was trained on
(for example in-distribution strict joint accuracy >= 60%); the gate's value is printed in the row. A claim about
generalisation also has a still-learning gate per model (:func:`gdlib.curves.still_learning`): its number must have
stopped moving along the model's learning curve, or the verdict is "not decided: still learning at S steps".

**Verdict** (:func:`verdict`, one of :data:`VERDICTS`), in this order: smoke profile -> not decided; a part of
the criterion fails clearly on a model whose gate passed -> does not hold; a model the claim rests on failed its
gate -> not decided; a control passes the criterion, or does not clearly fail it -> cannot tell (the criterion
cannot tell the model from the control); a part of the model's criterion is undecided (a measured interval
straddles its threshold: :attr:`Part.straddles`) -> cannot tell; otherwise -> holds.

:mod:`gdlib.report` turns every notebook's ``outputs/claims/<notebook>.json`` and ``outputs/runs.csv`` into
``outputs/REPORT.md``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from gdlib.checks import check_choice
from gdlib.paths import atomic_write_json, outputs_dir
from gdlib.tables import pct

ROLES = ("model", "control", "reference")
KINDS = ("claim", "reproduction", "data")
SMOKE = "smoke"
#: The four verdicts (issue 22: "cannot tell" when a control passes too, or an interval straddles a threshold).
VERDICTS = ("holds", "does not hold", "cannot tell", "not decided")
HOLDS, FAILS, CANNOT_TELL, UNDECIDED = VERDICTS
S = TypeVar("S")


# the pieces of a check ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Part:
    """One conjunct of a criterion, its outcome, and the models (by name) whose gates it rests on.
    ``straddles``: the measured value's interval straddles the threshold, so ``passes`` (the point estimate's
    outcome) is not decided either way: the part neither clearly passes nor clearly fails."""

    name: str
    passes: bool
    models: tuple[str, ...] = ()
    straddles: bool = False

    def __post_init__(self) -> None:  # numpy booleans would be saved as the text "False", which is truthy
        for name, cast in (("passes", bool), ("models", tuple), ("straddles", bool)):
            object.__setattr__(self, name, cast(getattr(self, name)))

    @property
    def clearly_fails(self) -> bool:
        return not self.passes and not self.straddles


@dataclass(frozen=True)
class Outcome:
    """A criterion applied to one row: its parts and the numbers it read, as text."""

    parts: tuple[Part, ...]
    measured: str

    @property
    def passes(self) -> bool:
        return all(p.passes for p in self.parts)

    @property
    def clearly_fails(self) -> bool:
        """Some part fails and its interval (if it has one) does not reach the threshold."""
        return any(p.clearly_fails for p in self.parts)


@dataclass(frozen=True)
class Gate:
    """Whether a model learnt what it was trained on: ``value >= threshold`` of ``metric``. With ``steps`` > 0 it
    is a still-learning gate instead (:func:`gdlib.curves.still_learning`): ``value`` is the change of the claim's
    number between the last two points of the model's learning curve, the last at ``steps`` optimiser steps, and it
    passes when that change is smaller than ``threshold`` either way (the number has stopped moving)."""

    model: str
    metric: str
    value: float
    threshold: float
    steps: int = 0

    @property
    def passed(self) -> bool:
        if self.steps:
            return math.isfinite(self.value) and abs(self.value) < self.threshold
        return math.isfinite(self.value) and self.value >= self.threshold

    def describe(self) -> str:
        mark = "passes" if self.passed else "FAILS"
        if not self.steps:
            return f"{self.model}: {self.metric} {pct(self.value)} (gate {pct(self.threshold)}: {mark})"
        change = f"{self.model}: {self.metric} changed by {100 * self.value:+.1f} points"
        head = f"stopped moving by {self.steps:,} steps" if self.passed else f"still learning at {self.steps:,} steps"
        return f"{head}: {change} (gate: less than {100 * self.threshold:.0f} points: {mark})"


@dataclass(frozen=True)
class Row:
    """One measured row of a check."""

    name: str
    role: str
    measured: str
    passes: bool | None = None
    parts: tuple[Part, ...] = ()

    def __post_init__(self) -> None:
        check_choice("role", self.role, ROLES)
        if self.passes is not None:
            object.__setattr__(self, "passes", bool(self.passes))


@dataclass(frozen=True)
class Evidence:
    """Everything a criterion measured: the model's outcome, each control's and reference's, the gates."""

    model: Outcome
    controls: Mapping[str, Outcome] = field(default_factory=dict)
    references: Mapping[str, Outcome] = field(default_factory=dict)
    gates: tuple[Gate, ...] = ()

    def rows(self, subject: str = "model") -> tuple[Row, ...]:
        """The measured rows; the first is named ``subject`` (the model, or the data of a data check)."""
        rows = [Row(subject, "model", self.model.measured, self.model.passes, self.model.parts)]
        rows += [Row(name, "control", o.measured, o.passes, o.parts) for name, o in self.controls.items()]
        rows += [Row(name, "reference", o.measured, o.passes, o.parts) for name, o in self.references.items()]
        return tuple(rows)


def judge(criterion: Callable[[S], Outcome], model: S, controls: Mapping[str, S] | None = None,
          references: Mapping[str, S] | None = None, gates: Iterable[Gate] = ()) -> Evidence:
    """Apply one criterion to the model and to every control and reference (the same function for all)."""
    return Evidence(criterion(model), {k: criterion(v) for k, v in (controls or {}).items()},
                    {k: criterion(v) for k, v in (references or {}).items()}, tuple(gates))


def verdict(evidence: Evidence, profile: str) -> tuple[str, str]:
    """``(verdict, reason)`` by the rules of the module docstring; the verdict is one of :data:`VERDICTS`."""
    if profile == SMOKE:
        return UNDECIDED, "smoke profile: tiny models and samples, not evidence either way"
    unlearnt_models = {g.model for g in evidence.gates if not g.passed}  # a model may have several gates
    ungated = [p for p in evidence.model.parts if not unlearnt_models & set(p.models)]
    failed = [p.name for p in ungated if p.clearly_fails]
    if failed:
        return FAILS, "the model fails: " + "; ".join(failed)
    unlearnt = [g for g in evidence.gates if not g.passed]
    if unlearnt:
        return UNDECIDED, "not decided: " + "; ".join(g.describe() for g in unlearnt)
    passing = [name for name, o in evidence.controls.items() if not o.clearly_fails]
    if passing:
        return CANNOT_TELL, ("a control passes too (or does not clearly fail), so the criterion cannot tell the "
                             "model from it: " + ", ".join(passing))
    straddling = [p.name for p in evidence.model.parts if p.straddles]
    if straddling:
        return CANNOT_TELL, "the interval straddles the threshold: " + "; ".join(straddling)
    if not evidence.controls:  # issue 23: say what was measured; a check with no control is weaker evidence
        return HOLDS, "the model passes (this check has no control to fail)"
    return HOLDS, "the model passes and every control fails"


def verdict_words(verdict: str, kind: str = "claim", controls: int | None = None) -> str:
    """The verdict worded by what was measured (issue 23): a simulation "reproduces"; "(no control)" where none ran."""
    simulation = {HOLDS: "reproduces", FAILS: "does not reproduce"}
    words = simulation.get(verdict, verdict) if kind == "reproduction" else verdict
    return f"{words} (no control)" if verdict == HOLDS and controls == 0 else words


# one recorded check ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class ClaimCheck:
    """One check of the report. ``verdict`` is one of :data:`VERDICTS` (``reason`` says why)."""

    id: str
    statement: str
    paper_figure: str
    paper_value: str
    criterion: str
    verdict: str
    reason: str
    profile: str
    notebook: str
    scale: str = ""
    kind: str = "claim"
    rows: tuple[Row, ...] = ()
    gates: tuple[Gate, ...] = ()
    note: str = ""

    @property
    def measured(self) -> str:
        """The model row's numbers (the first row: the model, the data or the simulation)."""
        return next((r.measured for r in self.rows if r.role == "model"), "")

    @property
    def controls(self) -> int:
        """How many controls went through the criterion beside the model."""
        return sum(r.role == "control" for r in self.rows)

    @property
    def verdict_text(self) -> str:
        """The verdict as REPORT.md, the README and the notebooks word it (:func:`verdict_words`)."""
        return verdict_words(self.verdict, self.kind, self.controls)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ClaimCheck:
        d = dict(d)
        if "holds" in d:  # a record written before the fourth verdict: (True, False, None) -> its verdict
            holds = d.pop("holds")
            cannot = holds is False and d.get("reason", "").startswith("a control passes too")
            d["verdict"] = CANNOT_TELL if cannot else {True: HOLDS, False: FAILS, None: UNDECIDED}[holds]
        part = lambda p: Part(p["name"], p["passes"], tuple(p["models"]), p.get("straddles", False))  # noqa: E731
        rows = tuple(Row(**{**r, "parts": tuple(part(p) for p in r.get("parts", ()))}) for r in d.pop("rows", ()))
        gates = tuple(Gate(**g) for g in d.pop("gates", ()))
        return cls(**d, rows=rows, gates=gates)


@dataclass(frozen=True)
class FigureRecord:
    """A saved figure and the paper figure it reproduces."""

    paper_figure: str
    file: str
    notebook: str
    caption: str = ""


@dataclass
class ClaimLog:
    """Collects one notebook's checks, figures and calibrated parameters, and keeps them on disk.

    Creating it removes the notebook's previous record (``outputs/claims/<notebook>.json``).
    """

    notebook: str
    profile: str
    claims: list[ClaimCheck] = field(default_factory=list)
    figures: list[FigureRecord] = field(default_factory=list)
    calibrated: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.path.unlink(missing_ok=True)

    @property
    def path(self) -> Path:
        return outputs_dir() / "claims" / f"{self.notebook}.json"

    @property
    def smoke(self) -> bool:
        return self.profile == SMOKE

    def check(self, id: str, statement: str, criterion: str, evidence: Evidence, paper_figure: str = "",
              paper_value: str = "", scale: str = "", kind: str = "claim", note: str = "",
              scale_independent: bool = False) -> ClaimCheck:
        """Record a check (replacing an earlier one with the same id), decided by :func:`verdict`, and save.
        ``scale_independent``: the check does not depend on the profile's sizes (exact properties of data, a
        simulation run at the paper's scale at every profile), so smoke decides it too."""
        check_choice("kind", kind, KINDS)
        decision, reason = verdict(evidence, "" if scale_independent else self.profile)
        subject = "model"
        if kind != "claim":  # a data check or a simulation: there is no trained model in the row
            subject = "data" if kind == "data" else "simulation"
            reason = reason.replace("the model ", f"the {subject} ")
        claim = ClaimCheck(id, statement, paper_figure, paper_value, criterion, decision, reason, self.profile,
                           self.notebook, scale, kind, evidence.rows(subject), evidence.gates, note)
        self.claims = [c for c in self.claims if c.id != id] + [claim]
        self.save()
        return claim

    def exact(self, id: str, statement: str, criterion: str, measured: str, passes: bool, **kwargs) -> ClaimCheck:
        """A data check (``kind="data"``): an exact property of generated data, no model and no control."""
        return self.check(id, statement, criterion, Evidence(Outcome((Part(criterion, bool(passes)),), measured)),
                          kind="data", scale_independent=True, **kwargs)

    def calibrate(self, parameter: str, how: str) -> None:
        """Record that ``parameter`` was set after seeing earlier runs (the report's header lists it)."""
        self.calibrated[parameter] = how
        self.save()

    def figure(self, paper_figure: str, file: str | Path, caption: str = "") -> FigureRecord:
        """Record that ``file`` (a saved figure) reproduces ``paper_figure``, and save."""
        file = Path(file)
        if file.resolve().is_relative_to(outputs_dir()):
            file = file.resolve().relative_to(outputs_dir())
        record = FigureRecord(paper_figure, str(file), self.notebook, caption)
        self.figures = [f for f in self.figures if f.file != record.file] + [record]
        self.save()
        return record

    def save(self) -> Path:
        atomic_write_json(self.path, {
            "notebook": self.notebook, "profile": self.profile, "calibrated": self.calibrated,
            "claims": [asdict(c) for c in self.claims], "figures": [asdict(f) for f in self.figures],
        })
        return self.path


@dataclass(frozen=True)
class NotebookRecord:
    """What one notebook recorded."""

    notebook: str
    profile: str
    claims: list[ClaimCheck]
    figures: list[FigureRecord]
    calibrated: dict[str, str]


def load_records(root: Path | None = None) -> list[NotebookRecord]:
    """Every notebook's record under ``root/claims`` (default: the outputs folder), in notebook order."""
    root = outputs_dir() if root is None else Path(root)
    out = []
    for path in sorted((root / "claims").glob("*.json")):
        blob = json.loads(path.read_text())
        out.append(NotebookRecord(blob.get("notebook", path.stem), blob.get("profile", ""),
                                  [ClaimCheck.from_dict(c) for c in blob.get("claims", [])],
                                  [FigureRecord(**f) for f in blob.get("figures", [])],
                                  dict(blob.get("calibrated", {}))))
    return out


def load_claims(root: Path | None = None) -> tuple[list[ClaimCheck], list[FigureRecord]]:
    """Every claim and figure recorded under ``root/claims``."""
    records = load_records(root)
    return [c for r in records for c in r.claims], [f for r in records for f in r.figures]


__all__ = ["VERDICTS", "HOLDS", "FAILS", "CANNOT_TELL", "UNDECIDED", "Part", "Outcome", "Gate", "Row", "Evidence",
           "judge", "verdict", "ClaimCheck", "FigureRecord", "ClaimLog", "NotebookRecord", "load_records",
           "load_claims", "verdict_words"]
