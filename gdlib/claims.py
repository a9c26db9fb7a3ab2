"""The reproduction report: claim checks and figures recorded by the notebooks.

A notebook makes one :class:`ClaimLog`, records each claim check with :meth:`ClaimLog.check`
(the criterion is fixed in the notebook before the measurement is made) and each saved figure with
:meth:`ClaimLog.figure`. Both land in ``outputs/claims/<notebook>.json`` (rewritten atomically after
every record, so a crash leaves the checks made so far). :func:`assemble_report` turns every
notebook's file plus ``outputs/runs.csv`` into ``outputs/REPORT.md``.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

from gdlib.paths import atomic_write_json, atomic_write_text, outputs_dir


@dataclass(frozen=True)
class ClaimCheck:
    """One claim of the paper checked against our measurement.

    ``holds`` is True/False when the criterion was evaluated, None when it could not be
    (for example a profile too small for the comparison to mean anything: ``note`` says why).
    """

    id: str
    statement: str
    paper_figure: str
    paper_value: str
    measured: str
    criterion: str
    holds: bool | None
    profile: str
    notebook: str
    note: str = ""


@dataclass(frozen=True)
class FigureRecord:
    """A saved figure and the paper figure it reproduces."""

    paper_figure: str
    file: str
    notebook: str
    caption: str = ""


@dataclass
class ClaimLog:
    """Collects one notebook's claim checks and figures and keeps them on disk."""

    notebook: str
    profile: str
    claims: list[ClaimCheck] = field(default_factory=list)
    figures: list[FigureRecord] = field(default_factory=list)

    @property
    def path(self) -> Path:
        return outputs_dir() / "claims" / f"{self.notebook}.json"

    def check(
        self,
        id: str,
        statement: str,
        measured: str,
        holds: bool | None,
        criterion: str,
        paper_figure: str = "",
        paper_value: str = "",
        note: str = "",
    ) -> ClaimCheck:
        """Record a claim check (replacing an earlier one with the same id) and save."""
        if holds is not None:
            holds = bool(holds)
        claim = ClaimCheck(id, statement, paper_figure, paper_value, measured, criterion, holds,
                           self.profile, self.notebook, note)
        self.claims = [c for c in self.claims if c.id != id] + [claim]
        self.save()
        return claim

    def figure(self, paper_figure: str, file: str | Path, caption: str = "") -> FigureRecord:
        """Record that ``file`` (a saved figure) reproduces ``paper_figure``, and save."""
        file = Path(file)
        try:
            file = file.resolve().relative_to(outputs_dir())
        except ValueError:
            pass
        record = FigureRecord(paper_figure, str(file), self.notebook, caption)
        self.figures = [f for f in self.figures if f.file != record.file] + [record]
        self.save()
        return record

    def save(self) -> Path:
        atomic_write_json(self.path, {
            "notebook": self.notebook,
            "profile": self.profile,
            "claims": [asdict(c) for c in self.claims],
            "figures": [asdict(f) for f in self.figures],
        })
        return self.path


def load_claims(root: Path | None = None) -> tuple[list[ClaimCheck], list[FigureRecord]]:
    """Every claim and figure recorded under ``root/claims`` (default: the outputs folder)."""
    root = outputs_dir() if root is None else Path(root)
    claims: list[ClaimCheck] = []
    figures: list[FigureRecord] = []
    for path in sorted((root / "claims").glob("*.json")):
        blob = json.loads(path.read_text())
        claims += [ClaimCheck(**c) for c in blob.get("claims", [])]
        figures += [FigureRecord(**f) for f in blob.get("figures", [])]
    return claims, figures


def _claim_order(claim: ClaimCheck) -> tuple:
    digits = "".join(ch for ch in claim.id if ch.isdigit())
    return (claim.id.rstrip("0123456789"), int(digits) if digits else math.inf, claim.id)


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _verdict(holds: bool | None) -> str:
    return {True: "holds", False: "**does not hold**", None: "not decided"}[holds]


def assemble_report(root: Path | None = None) -> Path:
    """Write ``REPORT.md``: all claims, all figures, and the runtimes from ``runs.csv``."""
    root = outputs_dir() if root is None else Path(root)
    claims, figures = load_claims(root)
    lines = ["# Reproduction report", "",
             "Liang, Liu, Ostrow, Fiete (NeurIPS 2024), *How Diffusion Models Learn to Factorize and Compose*.",
             "Each criterion was fixed in the notebook before the measurement.", "", "## Claims", ""]
    if claims:
        lines += ["| id | claim | paper (figure: value) | ours | criterion | profile | verdict | notebook |",
                  "|---|---|---|---|---|---|---|---|"]
        for c in sorted(claims, key=_claim_order):
            paper = f"{c.paper_figure}: {c.paper_value}" if c.paper_value else c.paper_figure
            ours = c.measured + (f" ({c.note})" if c.note else "")
            lines.append("| " + " | ".join(_cell(v) for v in (
                c.id, c.statement, paper, ours, c.criterion, c.profile, _verdict(c.holds), c.notebook)) + " |")
    else:
        lines.append("No claim was recorded.")
    lines += ["", "## Figures", ""]
    if figures:
        lines += ["| paper figure | file | notebook | caption |", "|---|---|---|---|"]
        for f in sorted(figures, key=lambda f: (f.notebook, f.file)):
            lines.append("| " + " | ".join(_cell(v) for v in (f.paper_figure, f.file, f.notebook, f.caption)) + " |")
    else:
        lines.append("No figure was recorded.")
    lines += ["", "## Runtimes", ""]
    runs = root / "runs.csv"
    if runs.exists():
        with runs.open() as fh:
            rows = list(csv.DictReader(fh))
        if rows:
            cols = list(rows[0].keys())
            lines += ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
            lines += ["| " + " | ".join(_cell(r[c]) for c in cols) + " |" for r in rows]
    else:
        lines.append("No runs.csv (notebooks were not run through run_all.sh).")
    path = root / "REPORT.md"
    atomic_write_text(path, "\n".join(lines) + "\n")
    return path
