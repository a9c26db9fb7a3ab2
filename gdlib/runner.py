"""Run the notebooks headlessly with papermill; ``./run_all.sh`` sets up the environment and ends here.

    python -m gdlib.runner [--profile smoke|quick|extended|full] [--only 01,03] [-p NAME VALUE]... [--output-dir DIR]
    python -m gdlib.runner --tests [pytest args]

Each notebook gets its profile's ``common`` section, then its own section, then ``PROFILE``,
``OUTPUT_DIR`` and ``INTERACTIVE = False``, then the ``-p`` overrides, only the names its
``parameters`` cell declares (:mod:`gdlib.parameters`). Every input is checked before the first
notebook starts: each value against the type of the notebook's default, and the output folder.

Each executed notebook lands in ``<outputs>/notebooks/NN_name.ipynb`` (``NN_name.failed.ipynb`` when
a cell raised or the run was interrupted), its wall time and peak memory in ``<outputs>/runs.csv``,
and the run ends by assembling ``<outputs>/REPORT.md``, also after a failure or a SIGINT/SIGTERM
(:mod:`gdlib.execution` stops a notebook cleanly and shows its progress, :mod:`gdlib.progress`).
"""

from __future__ import annotations

import argparse
import csv
import io
import keyword
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gdlib import parameters as params
from gdlib.execution import DEFAULT_KERNEL, REGISTER_KERNEL, check_kernel  # noqa: F401 (part of this API)
from gdlib.parameters import UsageError, available_profiles, load_profile, merge_parameters  # noqa: F401
from gdlib.paths import REPO, atomic_write_text, outputs_dir, why_not_writable
from gdlib.results import commit

NOTEBOOKS_DIR = params.NOTEBOOKS_DIR
declared_parameters = params.declared  # {name: default} of a notebook's parameters cell
DEFAULT_PROFILE = "quick"
RUNS_COLUMNS = ("notebook", "profile", "status", "wall_s", "peak_mib", "finished_at", "commit")
#: Set by the runner itself; ``--profile`` and ``--output-dir`` change the first two.
RUNNER_PARAMETERS = ("PROFILE", "OUTPUT_DIR", "INTERACTIVE")
_NOTEBOOK_FILE = re.compile(r"^(\d\d)_\w+\.ipynb$")


@dataclass(frozen=True)
class NotebookJob:
    """One notebook to execute, with exactly the parameters it will receive."""

    path: Path
    profile: str
    output_dir: Path
    parameters: dict[str, Any] = field(default_factory=dict)
    kernel: str = DEFAULT_KERNEL

    @property
    def stem(self) -> str:
        return self.path.stem

    @property
    def executed_path(self) -> Path:
        return self.output_dir / "notebooks" / f"{self.stem}.ipynb"


@dataclass(frozen=True)
class RunResult:
    """What one notebook run left: its status ("ok", "failed", "interrupted"), cost, executed copy, why."""

    notebook: str
    profile: str
    status: str
    wall_s: float
    peak_mib: float | None
    executed: Path | None
    message: str = ""
    commit: str = ""  # the code's commit when the notebook started (:func:`gdlib.results.commit`)

    @property
    def ok(self) -> bool:
        return self.status == "ok"


# --- discovery and checks (no side effect) ---------------------------------------------------------

def discover_notebooks(notebooks_dir: str | os.PathLike | None = None) -> dict[str, Path]:
    """The runnable notebooks ``NN_name.ipynb`` in ``notebooks_dir``, by two-digit number, in order."""
    found: dict[str, Path] = {}
    for path in sorted(Path(notebooks_dir or NOTEBOOKS_DIR).glob("*.ipynb")):
        match = _NOTEBOOK_FILE.match(path.name)
        if match and match.group(1) in found:
            raise UsageError(f"two notebooks share the number {match.group(1)}: {found[match.group(1)].name} "
                             f"and {path.name}")
        if match:
            found[match.group(1)] = path
    return found


def _split_only(only: str | Sequence[str] | None, allowed: Sequence[str]) -> list[str]:
    if only is None:
        return list(allowed)
    wanted = [str(i).strip() for i in (only.split(",") if isinstance(only, str) else only) if str(i).strip()]
    unknown = [w for w in wanted if w not in allowed]
    if unknown or not wanted:
        raise UsageError(f"unknown notebook number(s) {', '.join(unknown) or repr(only)}: "
                         f"allowed are {', '.join(allowed)} (two digits, comma-separated, e.g. --only 01,03)")
    return [number for number in allowed if number in wanted]


def _allowed_names(declared: Mapping[str, Iterable[str]]) -> str:
    lines = [f"  {stem}: {', '.join(sorted(set(names) - set(RUNNER_PARAMETERS))) or '(none)'}"
             for stem, names in declared.items()]
    return "parameters of the selected notebooks:\n" + "\n".join(lines)


def _check_names(overrides: Mapping[str, Any] | Iterable[Sequence[Any]],
                 declared: Mapping[str, Iterable[str]]) -> dict[str, Any]:
    items = list(overrides.items()) if isinstance(overrides, Mapping) else [tuple(o) for o in overrides]
    every = set().union(*declared.values()) if declared else set()
    result: dict[str, Any] = {}
    for item in items:
        if len(item) != 2:
            raise UsageError(f"-p takes a NAME and a VALUE (e.g. -p N_SAMPLES 64), got -p {' '.join(map(str, item))}\n"
                             + _allowed_names(declared))
        name, value = item
        if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
            raise UsageError(f"-p {name!r}: NAME must be a Python identifier\n" + _allowed_names(declared))
        if name in ("PROFILE", "OUTPUT_DIR"):
            raise UsageError(f"-p {name}: use --{name.lower().replace('_', '-')} instead")
        if name not in every:
            raise UsageError(f"-p {name}: no selected notebook has a parameter {name!r}\n" + _allowed_names(declared))
        result[name] = value
    return result


def plan_runs(profile: str = DEFAULT_PROFILE, only: str | Sequence[str] | None = None,
              overrides: Mapping[str, Any] | Iterable[Sequence[Any]] = (), output_dir: str | os.PathLike | None = None,
              kernel: str = DEFAULT_KERNEL, notebooks_dir: str | os.PathLike | None = None,
              profiles_dir: str | os.PathLike | None = None) -> list[NotebookJob]:
    """Check every input and return the jobs, in order; raise UsageError (touching nothing) if any is bad.

    ``overrides`` maps parameter names to values (or is a sequence of (name, value) pairs, as ``-p``
    gives them; values typed on the command line are :class:`gdlib.parameters.Text`, read by each
    notebook's type); ``only`` holds two-digit notebook numbers (``"01,03"`` or ``["01", "03"]``).
    """
    notebooks_dir = Path(notebooks_dir or NOTEBOOKS_DIR)
    profiles_dir = Path(profiles_dir or notebooks_dir / "profiles")
    output_dir = Path(output_dir or outputs_dir()).resolve()
    sections = load_profile(profile, profiles_dir)
    notebooks = discover_notebooks(notebooks_dir)
    if not notebooks:
        raise UsageError(f"no notebook NN_name.ipynb in {notebooks_dir}")
    selected = [notebooks[n] for n in _split_only(only, list(notebooks))]
    defaults = {path.stem: declared_parameters(path) for path in selected}
    checked = _check_names(overrides, defaults)
    check_kernel(kernel)
    if (problem := why_not_writable(output_dir)) is not None:
        raise UsageError(f"--output-dir {output_dir}: {problem}")
    jobs = []
    for path in selected:
        stem, declared = path.stem, defaults[path.stem]
        stray = sorted(set(sections.get(stem, {})) - set(declared))
        if stray:
            print(f"warning: profile {profile!r} sets {', '.join(stray)} for {stem}, which does not declare them; "
                  "they are not passed", file=sys.stderr)
        merged = merge_parameters(sections, stem, declared, profile, output_dir,
                                  {k: v for k, v in checked.items() if k in declared})
        for name, value in merged.items():
            if name in RUNNER_PARAMETERS:
                continue
            source = f"-p {name}" if name in checked else f"profile {profile!r}"
            merged[name] = params.check(name, value, declared[name], stem, source)  # or ParameterError
        jobs.append(NotebookJob(path, profile, output_dir, merged, kernel))
    return jobs


# --- execution and records ------------------------------------------------------------------------

def execute_job(job: NotebookJob, status=None, interrupts=None) -> RunResult:
    """Execute one notebook (:func:`gdlib.execution.execute`) and record it in runs.csv; ``status`` and
    ``interrupts`` come from :func:`run_notebooks` (else a plain status line and this call's own)."""
    from gdlib import execution, progress

    if interrupts is None:
        with execution.Interrupts() as caught:
            return execute_job(job, status, caught)
    job.executed_path.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GDLIB_OUTPUTS": str(job.output_dir)}  # for code that reads paths.outputs_dir()
    started_at = commit()
    out = execution.execute(job.path, job.executed_path, job.parameters, job.kernel, env,
                            status or progress.StatusLine(), interrupts)
    result = RunResult(job.stem, job.profile, out.status, round(out.wall_s, 2),
                       None if out.peak_mib is None else round(out.peak_mib, 1), out.executed, out.message,
                       started_at)
    record_run(job.output_dir, result)
    return result


def record_run(output_dir: str | os.PathLike, result: RunResult) -> Path:
    """Add ``result`` to ``<output_dir>/runs.csv``, replacing the row of the same notebook and profile."""
    from filelock import FileLock

    path = Path(output_dir) / "runs.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    row = {"notebook": result.notebook, "profile": result.profile, "status": result.status,
           "wall_s": f"{result.wall_s:.2f}", "peak_mib": "" if result.peak_mib is None else f"{result.peak_mib:.1f}",
           "finished_at": datetime.now(UTC).isoformat(timespec="seconds"), "commit": result.commit or commit()}
    with FileLock(str(path) + ".lock"):
        rows = []
        if path.exists():
            with path.open(newline="") as fh:
                rows = [r for r in csv.DictReader(fh)
                        if (r.get("notebook"), r.get("profile")) != (result.notebook, result.profile)]
        rows.append(row)
        rows.sort(key=lambda r: (r.get("notebook", ""), r.get("profile", "")))
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=RUNS_COLUMNS, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        atomic_write_text(path, buffer.getvalue())
    return path


def run_notebooks(profile: str = DEFAULT_PROFILE, only: str | Sequence[str] | None = None,
                  overrides: Mapping[str, Any] | Iterable[Sequence[Any]] = (),
                  output_dir: str | os.PathLike | None = None, kernel: str = DEFAULT_KERNEL,
                  notebooks_dir: str | os.PathLike | None = None, profiles_dir: str | os.PathLike | None = None,
                  progress_bar: bool | None = None) -> list[RunResult]:
    """Check the inputs, run the selected notebooks in order (stopping at the first failure or
    interrupt) and assemble the report. Raises UsageError before any work on bad input; returns the
    results (the last one failed or interrupted if the run stopped early). ``progress_bar``: the live
    status line (None: on a terminal; False: a line every 30 s)."""
    from gdlib import execution, progress
    from gdlib.report import assemble_report

    jobs = plan_runs(profile, only, overrides, output_dir, kernel, notebooks_dir, profiles_dir)
    root = jobs[0].output_dir
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UsageError(f"--output-dir {root}: {err.strerror}") from None
    status = progress.StatusLine(live=progress_bar)
    print(f"Running {len(jobs)} notebook(s) with profile {profile!r}, outputs in {root}", flush=True)
    results: list[RunResult] = []
    with execution.Interrupts() as interrupts:
        try:
            for i, job in enumerate(jobs, 1):
                if interrupts.received:
                    break
                print(f"[{i}/{len(jobs)}] {job.stem} ...", flush=True)
                status.start(f"[{i}/{len(jobs)}] {job.stem}")
                result = execute_job(job, status, interrupts)
                results.append(result)
                peak = "?" if result.peak_mib is None else f"{result.peak_mib:.0f} MiB"
                print(f"[{i}/{len(jobs)}] {job.stem}: {result.status} in {result.wall_s:.1f} s, peak {peak}",
                      flush=True)
                if not result.ok:
                    where = result.executed or "(no executed copy was written)"
                    print(f"{result.status.upper()}: notebook {job.stem} stopped: {result.message}\n"
                          f"  executed copy: {where}", file=sys.stderr, flush=True)
                    break
        finally:
            print(f"Report: {assemble_report(root)}", flush=True)
    if interrupts.received:
        raise KeyboardInterrupt(signal.Signals(interrupts.received[0]).name)
    return results


# --- command line ---------------------------------------------------------------------------------

class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        raise UsageError(message.replace("argument -p/--parameter: expected 2 arguments",
                                         "-p takes a NAME and a VALUE (e.g. -p N_SAMPLES 64)"))


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="run_all.sh", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run the reproduction notebooks with papermill and assemble outputs/REPORT.md.\n"
                    "./run_all.sh --tests [pytest args] runs the test suite instead (--tests must come first).",
        epilog="Examples:\n  ./run_all.sh                          # every notebook, profile quick\n"
               "  ./run_all.sh --profile smoke --only 01,03 -p SEED 1 -p LR -1e-3\n"
               "  ./run_all.sh --tests -x -q            # the test suite; the rest goes to pytest")
    parser.add_argument("--profile", default=DEFAULT_PROFILE,
                        help="parameter profile: smoke (seconds), quick (2-core CPU), "
                             "extended (2-core CPU, at most 2 h), full (paper scale, GPU); "
                             "default %(default)s")
    parser.add_argument("--only", metavar="NN,NN", help="run only these notebooks, by two-digit number")
    parser.add_argument("-p", "--parameter", dest="params", nargs=2, action="append", default=[],
                        metavar=("NAME", "VALUE"),
                        help="set a parameter of every selected notebook that declares it, checked against the "
                             "type of its default (text stays text; numbers, true/false and [lists] are YAML; "
                             "1e-3 and -1e-3 are numbers); repeatable")
    parser.add_argument("--output-dir", type=Path, default=None, help="outputs folder (default: outputs/)")
    parser.add_argument("--kernel", default=DEFAULT_KERNEL, help="Jupyter kernel (default %(default)s)")
    parser.add_argument("--notebooks-dir", type=Path, default=None,
                        help="where NN_name.ipynb live (default notebooks/)")
    parser.add_argument("--profiles-dir", type=Path, default=None,
                        help="where <profile>.yaml live (default: <notebooks-dir>/profiles)")
    parser.add_argument("--dry-run", action="store_true", help="check the inputs and print each notebook's "
                                                                "parameters, run nothing")
    return parser


def _protect_values(argv: list[str]) -> list[str]:
    """argparse takes ``-p LR -1e-3``'s value for an option: a leading space (dropped again in
    :func:`main`) makes a VALUE that starts with '-' read as a value."""
    out = list(argv)
    for i, arg in enumerate(out[:-2]):
        if arg in ("-p", "--parameter") and out[i + 2].startswith("-"):
            out[i + 2] = " " + out[i + 2]
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: exit status 0 when every notebook ran, 1 when one failed, 2 on bad input,
    130/143 when interrupted by SIGINT/SIGTERM."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if "--tests" in argv:
            if argv[0] != "--tests":
                raise UsageError("--tests must come first: ./run_all.sh --tests [pytest args]")
            return subprocess.call([sys.executable, "-m", "pytest", *argv[1:]], cwd=REPO)
        args = build_parser().parse_args(_protect_values(argv))
        overrides = [(name, params.Text(value[1:] if value.startswith(" -") else value))
                     for name, value in args.params]
        if args.dry_run:
            for job in plan_runs(args.profile, args.only, overrides, args.output_dir, args.kernel,
                                 args.notebooks_dir, args.profiles_dir):
                print(f"{job.stem}: {job.parameters}")
            return 0
        results = run_notebooks(args.profile, args.only, overrides, args.output_dir, args.kernel,
                                args.notebooks_dir, args.profiles_dir)
    except UsageError as err:
        print(f"run_all.sh: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as err:
        name = str(err) if str(err) in ("SIGINT", "SIGTERM") else "SIGINT"
        return 128 + signal.Signals[name].value
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
