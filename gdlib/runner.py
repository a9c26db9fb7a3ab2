"""Run the notebooks headlessly with papermill; ``./run_all.sh`` sets up the environment and ends here.

    python -m gdlib.runner [--profile smoke|quick|full] [--only 01,03] [-p NAME VALUE]... [--output-dir DIR]
    python -m gdlib.runner --tests [pytest args]

A profile is ``notebooks/profiles/<profile>.yaml``: one section per notebook stem (``01_datasets:``)
plus an optional ``common:`` section for all of them. Each notebook gets ``common``, then its own
section, then ``PROFILE``, ``OUTPUT_DIR`` and ``INTERACTIVE = False``, then the ``-p`` overrides;
only the names its ``parameters`` cell declares are injected, so ``common`` may hold names that
only some notebooks use. Every input is checked before the first notebook starts.

Each executed notebook lands in ``<outputs>/notebooks/NN_name.ipynb`` (``NN_name.failed.ipynb`` when
a cell raised), its wall time and peak memory in ``<outputs>/runs.csv``, and the run ends by
assembling ``<outputs>/REPORT.md`` from the claim checks the notebooks recorded.

From Python: :func:`run_notebooks` (the whole run), :func:`plan_runs` (the checks, no side
effect), :func:`execute_job` (one notebook), :func:`main` (the command line).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import keyword
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from gdlib.paths import REPO, atomic_write_text, outputs_dir

NOTEBOOKS_DIR = REPO / "notebooks"
DEFAULT_PROFILE = "quick"
DEFAULT_KERNEL = "gdlib"
RUNS_COLUMNS = ("notebook", "profile", "status", "wall_s", "peak_mib", "finished_at")
#: Set by the runner itself; ``--profile`` and ``--output-dir`` change the first two.
RUNNER_PARAMETERS = ("PROFILE", "OUTPUT_DIR", "INTERACTIVE")
REGISTER_KERNEL = 'python -m ipykernel install --sys-prefix --name gdlib --display-name "Python (gdlib)"'
_NOTEBOOK_FILE = re.compile(r"^(\d\d)_\w+\.ipynb$")


class UsageError(ValueError):
    """Bad input (profile, notebook number, parameter, kernel), found before any notebook runs."""


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

    @property
    def failed_path(self) -> Path:
        return self.output_dir / "notebooks" / f"{self.stem}.failed.ipynb"


@dataclass(frozen=True)
class RunResult:
    """What one notebook run left: its status, cost, executed copy and, on failure, why."""

    notebook: str
    profile: str
    status: str  # "ok" or "failed"
    wall_s: float
    peak_mib: float | None
    executed: Path | None
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"


# ---------------------------------------------------------------------------------------------
# Discovery and checks (no side effect)
# ---------------------------------------------------------------------------------------------

def discover_notebooks(notebooks_dir: str | os.PathLike | None = None) -> dict[str, Path]:
    """The runnable notebooks ``NN_name.ipynb`` in ``notebooks_dir``, by two-digit number, in order."""
    notebooks_dir = Path(notebooks_dir or NOTEBOOKS_DIR)
    found: dict[str, Path] = {}
    for path in sorted(notebooks_dir.glob("*.ipynb")):
        match = _NOTEBOOK_FILE.match(path.name)
        if not match:
            continue
        number = match.group(1)
        if number in found:
            raise UsageError(f"two notebooks share the number {number}: {found[number].name} and {path.name}")
        found[number] = path
    return found


def available_profiles(profiles_dir: str | os.PathLike | None = None) -> list[str]:
    """Profile names, one per ``<name>.yaml`` in ``profiles_dir``."""
    profiles_dir = Path(profiles_dir or NOTEBOOKS_DIR / "profiles")
    return sorted(p.stem for p in profiles_dir.glob("*.yaml"))


def load_profile(name: str, profiles_dir: str | os.PathLike | None = None) -> dict[str, dict[str, Any]]:
    """The sections of ``<profiles_dir>/<name>.yaml`` (an empty or null section reads as ``{}``)."""
    profiles_dir = Path(profiles_dir or NOTEBOOKS_DIR / "profiles")
    allowed = available_profiles(profiles_dir)
    if name not in allowed:
        raise UsageError(f"unknown profile {name!r}: allowed profiles are {', '.join(allowed) or '(none)'} "
                         f"(the *.yaml files in {profiles_dir})")
    path = profiles_dir / f"{name}.yaml"
    try:
        blob = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise UsageError(f"profile {path} is not valid YAML: {err}") from err
    if not isinstance(blob, dict):
        raise UsageError(f"profile {path} must map section names (common, 01_datasets, ...) to parameters")
    sections: dict[str, dict[str, Any]] = {}
    for section, values in blob.items():
        values = values or {}
        if not isinstance(values, dict):
            raise UsageError(f"profile {path}: section {section!r} must map parameter names to values")
        sections[str(section)] = values
    return sections


def declared_parameters(notebook: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """The parameters a notebook declares in its ``parameters`` cell (papermill's inference)."""
    import papermill

    return papermill.inspect_notebook(str(notebook))


def merge_parameters(
    sections: Mapping[str, Mapping[str, Any]],
    stem: str,
    declared: Iterable[str],
    profile: str,
    output_dir: str | os.PathLike,
    overrides: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """What notebook ``stem`` receives: common < its section < runner values < overrides, declared only."""
    merged: dict[str, Any] = {**sections.get("common", {}), **sections.get(stem, {})}
    merged.update(PROFILE=profile, OUTPUT_DIR=str(Path(output_dir).resolve()), INTERACTIVE=False)
    merged.update(overrides or {})
    declared = set(declared)
    return {name: value for name, value in merged.items() if name in declared}


def check_kernel(kernel: str) -> None:
    """Raise UsageError unless the Jupyter kernel ``kernel`` is registered and its interpreter exists;
    the default kernel must also run this environment's interpreter (the one running the runner)."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    manager = KernelSpecManager()
    how = f"install it into this environment with: {REGISTER_KERNEL}  (./run_all.sh does this)" \
        if kernel == DEFAULT_KERNEL else "pass --kernel with one of the registered kernels"
    try:
        spec = manager.get_kernel_spec(kernel)
    except NoSuchKernel:
        known = ", ".join(sorted(manager.find_kernel_specs())) or "(none)"
        raise UsageError(f"the Jupyter kernel {kernel!r} is not registered (registered: {known}); {how}") \
            from None
    program = spec.argv[0] if spec.argv else ""
    if os.path.isabs(program) and not os.path.exists(program):
        raise UsageError(f"the Jupyter kernel {kernel!r} points to {program}, which no longer exists; {how}")
    # Not resolved through symlinks: two venvs made from one Python share the real interpreter.
    if kernel == DEFAULT_KERNEL and os.path.isabs(program) and \
            os.path.abspath(program) != os.path.abspath(sys.executable):
        raise UsageError(f"the Jupyter kernel {kernel!r} found in {spec.resource_dir} runs {program}, not this "
                         f"environment's {sys.executable}, so the notebooks would run in another environment; "
                         f"{how} (and remove the other one with: jupyter kernelspec remove {kernel})")


def _split_only(only: str | Sequence[str] | None, allowed: Sequence[str]) -> list[str]:
    if only is None:
        return list(allowed)
    items = only.split(",") if isinstance(only, str) else list(only)
    wanted = [str(item).strip() for item in items if str(item).strip()]
    unknown = [w for w in wanted if w not in allowed]
    if unknown or not wanted:
        raise UsageError(f"unknown notebook number(s) {', '.join(unknown) or repr(only)}: "
                         f"allowed are {', '.join(allowed)} (two digits, comma-separated, e.g. --only 01,03)")
    return [number for number in allowed if number in wanted]


def _allowed_names(declared: Mapping[str, Iterable[str]]) -> str:
    lines = [f"  {stem}: {', '.join(sorted(set(names) - set(RUNNER_PARAMETERS))) or '(none)'}"
             for stem, names in declared.items()]
    return "parameters of the selected notebooks:\n" + "\n".join(lines)


def _check_overrides(
    overrides: Mapping[str, Any] | Iterable[Sequence[Any]], declared: Mapping[str, Iterable[str]]
) -> dict[str, Any]:
    items = list(overrides.items()) if isinstance(overrides, Mapping) else [tuple(o) for o in overrides]
    every = set().union(*declared.values()) if declared else set()
    result: dict[str, Any] = {}
    for item in items:
        if len(item) != 2:
            got = " ".join(map(str, item))
            raise UsageError(f"-p takes a NAME and a VALUE (e.g. -p N_SAMPLES 64), got -p {got}\n"
                             + _allowed_names(declared))
        name, value = item
        if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
            raise UsageError(f"-p {name!r}: NAME must be a Python identifier\n" + _allowed_names(declared))
        if name in ("PROFILE", "OUTPUT_DIR"):
            raise UsageError(f"-p {name}: use --{name.lower().replace('_', '-')} instead")
        if name not in every:
            raise UsageError(f"-p {name}: no selected notebook has a parameter {name!r}\n"
                             + _allowed_names(declared))
        result[name] = value
    return result


def plan_runs(
    profile: str = DEFAULT_PROFILE,
    only: str | Sequence[str] | None = None,
    overrides: Mapping[str, Any] | Iterable[Sequence[Any]] = (),
    output_dir: str | os.PathLike | None = None,
    kernel: str = DEFAULT_KERNEL,
    notebooks_dir: str | os.PathLike | None = None,
    profiles_dir: str | os.PathLike | None = None,
) -> list[NotebookJob]:
    """Check every input and return the jobs, in order; raise UsageError (touching nothing) if any is bad.

    ``overrides`` maps parameter names to values (or is a sequence of (name, value) pairs, as ``-p``
    gives them); ``only`` holds two-digit notebook numbers (``"01,03"`` or ``["01", "03"]``).
    """
    notebooks_dir = Path(notebooks_dir or NOTEBOOKS_DIR)
    profiles_dir = Path(profiles_dir or notebooks_dir / "profiles")
    output_dir = Path(output_dir or outputs_dir()).resolve()
    sections = load_profile(profile, profiles_dir)
    notebooks = discover_notebooks(notebooks_dir)
    if not notebooks:
        raise UsageError(f"no notebook NN_name.ipynb in {notebooks_dir}")
    selected = [notebooks[n] for n in _split_only(only, list(notebooks))]
    declared = {path.stem: list(declared_parameters(path)) for path in selected}
    checked = _check_overrides(overrides, declared)
    check_kernel(kernel)
    jobs = []
    for path in selected:
        stray = sorted(set(sections.get(path.stem, {})) - set(declared[path.stem]))
        if stray:
            print(f"warning: profile {profile!r} sets {', '.join(stray)} for {path.stem}, which does not "
                  "declare them; they are not passed", file=sys.stderr)
        params = merge_parameters(sections, path.stem, declared[path.stem], profile, output_dir,
                                  {k: v for k, v in checked.items() if k in declared[path.stem]})
        jobs.append(NotebookJob(path, profile, output_dir, params, kernel))
    return jobs


# ---------------------------------------------------------------------------------------------
# Execution
# ---------------------------------------------------------------------------------------------

def _execute_one(spec_path: str) -> int:
    """Child-process side of :func:`execute_job`: run papermill once, report time and peak memory."""
    import resource

    import papermill
    from papermill.exceptions import PapermillExecutionError

    spec = json.loads(Path(spec_path).read_text())
    result: dict[str, Any] = {"status": "ok", "message": ""}
    start = time.perf_counter()
    try:
        papermill.execute_notebook(
            spec["input"], spec["output"], parameters=spec["parameters"], kernel_name=spec["kernel"],
            cwd=spec["cwd"], progress_bar=spec["progress_bar"], log_output=False,
        )
    except PapermillExecutionError as err:
        first_line = next((line for line in err.source.splitlines() if line.strip()), "")
        result.update(status="failed", cell_index=err.cell_index, exec_count=err.exec_count,
                      message=f"cell {err.cell_index} of the executed copy (In [{err.exec_count}]: "
                              f"{first_line.strip()[:80]!r} ...) raised {err.ename}: {err.evalue}")
    except Exception as err:  # the kernel died, could not start, the notebook is unreadable, ...
        result.update(status="failed", message=f"{type(err).__name__}: {err}")
    result["wall_s"] = time.perf_counter() - start
    # The kernel is a child of this process, and papermill has shut it down and reaped it by now,
    # so RUSAGE_CHILDREN covers it (and whatever it started and reaped, e.g. DataLoader workers).
    # ru_maxrss is the peak resident set of the largest single such process, not a sum. One
    # process per notebook is what makes the figure per notebook: in the long-lived parent it
    # would be the maximum over every notebook run so far. Linux reports KiB, macOS bytes.
    maxrss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    result["peak_mib"] = maxrss / (2**20 if sys.platform == "darwin" else 2**10)
    Path(spec["result"]).write_text(json.dumps(result))
    return 0 if result["status"] == "ok" else 1


def execute_job(job: NotebookJob, progress_bar: bool = False) -> RunResult:
    """Execute one notebook in a child process, keep the executed copy and record it in runs.csv.

    Papermill writes to a hidden ``.NN_name.partial.ipynb``; only a finished run is renamed to
    ``NN_name.ipynb``, a failed one to ``NN_name.failed.ipynb`` (the stale copy of the other kind is
    removed, so the folder shows the latest run), so a crash never leaves a half file that looks complete.
    """
    folder = job.output_dir / "notebooks"
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f".{job.stem}.partial.ipynb"
    env = {**os.environ, "GDLIB_OUTPUTS": str(job.output_dir)}  # for code that reads paths.outputs_dir()
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="gdlib-runner-") as tmp:
        spec_path, result_path = Path(tmp) / "spec.json", Path(tmp) / "result.json"
        spec_path.write_text(json.dumps({
            "input": str(job.path), "output": str(partial), "parameters": job.parameters,
            "kernel": job.kernel, "cwd": str(job.path.parent), "progress_bar": progress_bar,
            "result": str(result_path),
        }, default=str))
        proc = subprocess.run([sys.executable, "-m", "gdlib.runner", "--execute-one", str(spec_path)],
                              env=env, check=False)
        if result_path.exists():
            outcome = json.loads(result_path.read_text())
        else:  # the child itself died (killed, out of memory): no time or memory from inside it
            outcome = {"status": "failed", "wall_s": time.perf_counter() - start, "peak_mib": None,
                       "message": f"the runner's child process exited with code {proc.returncode}"}
    ok = outcome["status"] == "ok"
    keep, drop = (job.executed_path, job.failed_path) if ok else (job.failed_path, job.executed_path)
    executed = None
    if partial.exists():
        os.replace(partial, keep)
        executed = keep
    drop.unlink(missing_ok=True)
    result = RunResult(job.stem, job.profile, outcome["status"], round(outcome["wall_s"], 2),
                       None if outcome["peak_mib"] is None else round(outcome["peak_mib"], 1),
                       executed, outcome["message"])
    record_run(job.output_dir, result)
    return result


def record_run(output_dir: str | os.PathLike, result: RunResult) -> Path:
    """Add ``result`` to ``<output_dir>/runs.csv``, replacing the row of the same notebook and profile."""
    from filelock import FileLock

    path = Path(output_dir) / "runs.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    row = {"notebook": result.notebook, "profile": result.profile, "status": result.status,
           "wall_s": f"{result.wall_s:.2f}",
           "peak_mib": "" if result.peak_mib is None else f"{result.peak_mib:.1f}",
           "finished_at": datetime.now(UTC).isoformat(timespec="seconds")}
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


def run_notebooks(
    profile: str = DEFAULT_PROFILE,
    only: str | Sequence[str] | None = None,
    overrides: Mapping[str, Any] | Iterable[Sequence[Any]] = (),
    output_dir: str | os.PathLike | None = None,
    kernel: str = DEFAULT_KERNEL,
    notebooks_dir: str | os.PathLike | None = None,
    profiles_dir: str | os.PathLike | None = None,
    progress_bar: bool | None = None,
) -> list[RunResult]:
    """Check the inputs, run the selected notebooks in order (stopping at the first failure) and
    assemble the report. Raises UsageError before any work on bad input; returns the results
    (the last one failed if the run stopped early)."""
    from gdlib.claims import assemble_report

    jobs = plan_runs(profile, only, overrides, output_dir, kernel, notebooks_dir, profiles_dir)
    if progress_bar is None:
        progress_bar = sys.stdout.isatty()
    root = jobs[0].output_dir
    print(f"Running {len(jobs)} notebook(s) with profile {profile!r}, outputs in {root}", flush=True)
    results: list[RunResult] = []
    try:
        for i, job in enumerate(jobs, 1):
            print(f"[{i}/{len(jobs)}] {job.stem} ...", flush=True)
            result = execute_job(job, progress_bar=progress_bar)
            results.append(result)
            peak = "?" if result.peak_mib is None else f"{result.peak_mib:.0f} MiB"
            print(f"[{i}/{len(jobs)}] {job.stem}: {result.status} in {result.wall_s:.1f} s, peak {peak}",
                  flush=True)
            if not result.ok:
                where = result.executed or "(no executed copy was written)"
                print(f"FAILED: notebook {job.stem} stopped: {result.message}\n  executed copy: {where}",
                      file=sys.stderr, flush=True)
                break
    finally:
        report = assemble_report(root)
        print(f"Report: {report}", flush=True)
    return results


# ---------------------------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------------------------

class _Formatter(argparse.RawDescriptionHelpFormatter):
    def _format_args(self, action: argparse.Action, default_metavar: str) -> str:
        if action.dest == "params":
            return "NAME VALUE"
        return super()._format_args(action, default_metavar)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="run_all.sh", formatter_class=_Formatter,
        description="Run the reproduction notebooks with papermill and assemble outputs/REPORT.md.",
        epilog="Examples:\n  ./run_all.sh                          # every notebook, profile quick\n"
               "  ./run_all.sh --profile smoke --only 01,03 -p SEED 1\n"
               "  ./run_all.sh --tests -x -q            # the test suite; the rest goes to pytest")
    parser.add_argument("--tests", action="store_true",
                        help="run the test suite (python -m pytest) with the remaining arguments; "
                             "must come first")
    parser.add_argument("--profile", default=DEFAULT_PROFILE,
                        help="parameter profile: smoke (seconds), quick (2-core CPU), "
                             "full (paper scale, GPU); default %(default)s")
    parser.add_argument("--only", metavar="NN,NN", help="run only these notebooks, by two-digit number")
    parser.add_argument("-p", "--parameter", dest="params", nargs="+", action="append", default=[],
                        help="override a parameter of every selected notebook that declares it; VALUE is "
                             "read as YAML (64, 0.5, 1e-3, true, [1, 2], text); repeatable")
    parser.add_argument("--output-dir", type=Path, default=None, help="outputs folder (default: outputs/)")
    parser.add_argument("--kernel", default=DEFAULT_KERNEL, help="Jupyter kernel (default %(default)s)")
    parser.add_argument("--notebooks-dir", type=Path, default=None,
                        help="where NN_name.ipynb live (default notebooks/)")
    parser.add_argument("--profiles-dir", type=Path, default=None,
                        help="where <profile>.yaml live (default: <notebooks-dir>/profiles)")
    parser.add_argument("--dry-run", action="store_true", help="check the inputs and print each notebook's "
                                                                "parameters, run nothing")
    parser.add_argument("--execute-one", metavar="SPEC", help=argparse.SUPPRESS)
    return parser


def run_tests(pytest_args: Sequence[str]) -> int:
    """``./run_all.sh --tests ARGS``: the whole test suite (or what ARGS select) from the repository root."""
    return subprocess.call([sys.executable, "-m", "pytest", *pytest_args], cwd=REPO)


_SCIENTIFIC = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)[eE][+-]?\d+$")


def _parse_value(name: str, text: str) -> Any:
    """A ``-p`` VALUE, read as YAML (as papermill's ``-y``), except that ``1e-3`` is a number, not text
    (YAML 1.1, which PyYAML follows, wants ``1.0e-3``)."""
    if _SCIENTIFIC.match(text.strip()):
        return float(text)
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise UsageError(f"-p {name} {text!r}: VALUE must be YAML "
                         f"(64, 0.5, 1e-3, true, [1, 2], text): {err}") from err


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: exit status 0 when every notebook ran, 1 when one failed, 2 on bad input."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--tests"]:
        return run_tests(argv[1:])
    args = build_parser().parse_args(argv)
    if args.execute_one:
        return _execute_one(args.execute_one)
    try:
        if args.tests:
            raise UsageError("--tests must come first: ./run_all.sh --tests [pytest args]")
        overrides = [(p[0], _parse_value(p[0], p[1])) if len(p) == 2 else tuple(p) for p in args.params]
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
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
