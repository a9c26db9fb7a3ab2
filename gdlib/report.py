"""The reproduction report: ``outputs/REPORT.md`` from every notebook's recorded claims and figures.

:func:`assemble_report` reads each notebook's ``outputs/claims/<notebook>.json`` (written by
:class:`gdlib.claims.ClaimLog`) and ``outputs/runs.csv`` (written by the runner) and writes the report: a
summary, the settings calibrated on earlier runs, then a section per notebook with its claims (each with its
rows, measured by one criterion on the model and its controls) and its figures embedded as images, the learning
curves' end points ("What more compute does", :func:`gdlib.curves.report_lines`), and the runtimes.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable
from pathlib import Path

from gdlib.claims import CANNOT_TELL, FAILS, HOLDS, UNDECIDED, VERDICTS, ClaimCheck, load_records
from gdlib.curves import report_lines
from gdlib.paths import atomic_write_text, outputs_dir
from gdlib.revisions import REVISIONS


def _claim_order(claim: ClaimCheck) -> tuple:
    digits = "".join(ch for ch in claim.id if ch.isdigit())
    return (claim.id.rstrip("0123456789abcdefgh"), int(digits) if digits else math.inf, claim.id)


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _mark(passes: bool | None, parts) -> str:
    """A row's outcome; a part whose interval straddles its threshold makes it undecided."""
    if passes is None:
        return ""
    return "undecided (interval straddles)" if any(p.straddles for p in parts) else ("passes" if passes else "fails")


def _table(header: list[str], rows: Iterable[Iterable[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]


def _claim_section(c: ClaimCheck) -> list[str]:
    lines = [f"#### {c.id}: {c.statement}", ""]
    if c.paper_figure or c.paper_value:
        lines.append(f"- Paper ({c.paper_figure}): {c.paper_value}" if c.paper_value else f"- Paper: {c.paper_figure}")
    lines.append(f"- Criterion: {c.criterion}")
    lines.append(f"- Scale: {c.scale or c.profile + ' profile'}")
    for g in c.gates:
        lines.append(f"- Gate: {g.describe()}")
    if c.note:
        lines.append(f"- Note: {c.note}")
    lines.append(f"- **Verdict: {c.verdict_text}** ({c.reason})")
    lines.append("")
    lines += _table(["row", "role", "measured", "criterion"],
                    ((r.name, r.role, r.measured, _mark(r.passes, r.parts)) for r in c.rows))
    lines.append("")
    return lines


def _reproduce(claims: list[ClaimCheck]) -> str:
    n = sum(c.verdict == HOLDS and c.kind == "reproduction" for c in claims)
    return f" ({n} of them a simulation that reproduces)" if n else ""


def _data_summary(data: list[ClaimCheck]) -> str:
    if not data:
        return "."
    bare = sum(c.verdict == HOLDS and c.controls == 0 for c in data)
    return (f"; and {sum(c.verdict == HOLDS for c in data)} of {len(data)} data checks hold"
            + (f" ({bare} with no control)." if bare else "."))


def assemble_report(root: Path | None = None) -> Path:
    """Write ``REPORT.md``: summary, the parameters calibrated on earlier runs, one section per notebook
    (claims with their rows, figures as images), and the runtimes from ``runs.csv``."""
    root = outputs_dir() if root is None else Path(root)
    records = load_records(root)
    everything = [c for r in records for c in r.claims]
    claims = [c for c in everything if c.kind != "data"]
    data = [c for c in everything if c.kind == "data"]
    profiles = sorted({c.profile for c in everything} | {r.profile for r in records})
    count = {v: sum(c.verdict == v for c in claims) for v in VERDICTS}
    lines = ["# Reproduction report", "",
             "Liang, Liu, Ostrow, Fiete (NeurIPS 2024), *How Diffusion Models Learn to Factorize and Compose*.", "",
             f"**Summary**: of {len(claims)} checks, {count[HOLDS]} hold{_reproduce(claims)}, {count[FAILS]} do "
             f"not hold, {count[CANNOT_TELL]} cannot tell and {count[UNDECIDED]} are not decided, at profile "
             f"{', '.join(profiles) or '-'}" + _data_summary(data), "",
             "How to read a check: the criterion is applied by one function to the model and to every control "
             "(something that learned nothing, or, for a statement that the model fails at something, a generator "
             "that succeeds at it). A check holds only when the model passes, the models it rests on passed "
             "their learning gates, and every control fails; it does not hold when the model clearly fails; it "
             "*cannot tell* when a control passes too (the criterion cannot tell the model from something that "
             "learned nothing) or a measured interval straddles the threshold; it is *not decided* when a model "
             "did not learn what it was trained on, or at the smoke profile. A check with no control to fail "
             "(an exact count of the data) reads *holds (no control)*: its value alone is the evidence. A "
             "simulation's check *reproduces* or not. References are shown for context only.", ""]
    if everything:
        lines += _table(["id", "claim", "verdict", "profile", "notebook"],
                        ((c.id, c.statement, c.verdict_text, c.profile, c.notebook)
                         for c in sorted(everything, key=_claim_order)))
        lines.append("")
    calibrated = [(r.notebook, k, v) for r in records for k, v in r.calibrated.items()]
    lines += ["## What was not fixed before measurement", "",
              "Most criteria were written before the runs they judge; the ones listed last were revised after. "
              "These settings were chosen "
              "after earlier runs had been seen (training lengths calibrated on in-distribution accuracy, "
              "sweep ranges, estimator rules); they are listed so that a reader can weigh them:", ""]
    lines += [f"- {nb}: `{k}`: {v}" for nb, k, v in calibrated] or ["- (none recorded)"]
    lines += ["", "Criteria and thresholds revised after a run had been seen (`gdlib.revisions`), with the commit "
              "that changed each:", ""]
    lines += [f"- {r.describe()}" for r in REVISIONS]
    lines.append("")
    for r in records:
        lines += [f"## {r.notebook} (profile {r.profile})", ""]
        for c in sorted(r.claims, key=_claim_order):
            lines += _claim_section(c)
        for f in sorted(r.figures, key=lambda f: f.file):
            lines += [f"**{f.paper_figure}**: {f.caption}", "", f"![{f.paper_figure}]({f.file})", ""]
    lines += report_lines(root)
    lines += ["## Runtimes", ""]
    runs = root / "runs.csv"
    if runs.exists():
        with runs.open() as fh:
            rows = list(csv.DictReader(fh))
        if rows:
            lines += _table(list(rows[0].keys()), (r.values() for r in rows))
    else:
        lines.append("No runs.csv (notebooks were not run through run_all.sh).")
    path = root / "REPORT.md"
    atomic_write_text(path, "\n".join(lines) + "\n")
    return path


__all__ = ["assemble_report"]
