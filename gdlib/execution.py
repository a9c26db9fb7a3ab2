"""Executing one notebook: papermill in a child process, its progress on the terminal, its peak
memory, and a clean stop on SIGINT or SIGTERM.

The runner starts a child process (its own session, so a Ctrl-C in the terminal reaches the runner
only) that runs papermill; the kernel runs in a process group of its own (jupyter_client starts it
so), which also holds the processes it starts (sweep workers). The runner

- waits for the child with ``os.wait4``, whose resource usage is the peak memory of the child and
  of what it reaped (the kernel, and what the kernel reaped): one child per notebook makes the figure
  per notebook;
- shows the cell the child reports as running and the bars of :mod:`gdlib.progress`;
- on SIGINT or SIGTERM interrupts the kernel's process group (SIGINT: a KeyboardInterrupt in the
  running cell and in sweep workers, which stop and release their locks; papermill records it in the
  cell), waits up to :data:`GRACE_S` seconds, then kills the kernel's and the child's process groups
  (a second signal kills at once). The executed copy is kept as ``NN_name.failed.ipynb`` with the
  interrupted cell marked, and the temporary files (this run's folder, the kernel's connection file)
  are removed; the caller records the run and writes the report. Slurm jobs already submitted are
  not cancelled: they go on training into the cache, and the notebook's sweep says how to cancel them.
  A child whose runner died (SIGKILL) kills its kernel and exits.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gdlib import engine, progress
from gdlib.parameters import UsageError
from gdlib.paths import atomic_write_text

GRACE_S = 10.0
POLL_S = 0.2
DEFAULT_KERNEL = "gdlib"
REGISTER_KERNEL = 'python -m ipykernel install --sys-prefix --name gdlib --display-name "Python (gdlib)"'


@dataclass
class Outcome:
    """What executing one notebook gave: ``status`` "ok", "failed" or "interrupted"."""

    status: str
    message: str
    wall_s: float
    peak_mib: float | None
    executed: Path | None


class Interrupts:
    """SIGINT/SIGTERM handlers for the duration of a run: they record the signal instead of raising."""

    def __init__(self) -> None:
        self.received: list[int] = []

    def __enter__(self) -> Interrupts:
        # only the main thread may set handlers; from another thread, signals keep their usual effect
        self._saved = {} if threading.current_thread() is not threading.main_thread() else \
            {s: signal.signal(s, self._record) for s in (signal.SIGINT, signal.SIGTERM)}
        return self

    def _record(self, signum: int, _frame) -> None:
        self.received.append(signum)

    def __exit__(self, *exc) -> None:
        for s, handler in self._saved.items():
            signal.signal(s, handler)

    @property
    def name(self) -> str:
        return signal.Signals(self.received[0]).name if self.received else ""


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
        raise UsageError(f"the Jupyter kernel {kernel!r} is not registered (registered: {known}); {how}") from None
    program = spec.argv[0] if spec.argv else ""
    if os.path.isabs(program) and not os.path.exists(program):
        raise UsageError(f"the Jupyter kernel {kernel!r} points to {program}, which no longer exists; {how}")
    # Not resolved through symlinks: two venvs made from one Python share the real interpreter.
    if kernel == DEFAULT_KERNEL and os.path.isabs(program) and \
            os.path.abspath(program) != os.path.abspath(sys.executable):
        raise UsageError(f"the Jupyter kernel {kernel!r} found in {spec.resource_dir} runs {program}, not this "
                         f"environment's {sys.executable}, so the notebooks would run in another environment; "
                         f"{how} (and remove the other one with: jupyter kernelspec remove {kernel})")


def _killpg(pgid: int | None, sig: int) -> None:
    if pgid:
        try:
            os.killpg(pgid, sig)
        except (ProcessLookupError, PermissionError):
            pass


@dataclass
class _Watched:
    """What the runner saw of its child until it exited."""

    code: int  # os.wait4's exit status
    usage: Any  # os.wait4's resource usage
    kernel: dict[str, Any]  # the kernel the child started: pid, pgid, connection file (empty if none)
    cell: dict[str, Any]  # the cell the child reported last: index, count, first line (empty if none)
    killed: bool  # whether the runner killed the kernel and the child


def execute(path: Path, output: Path, parameters: dict[str, Any], kernel: str, env: dict[str, str],
            status: progress.StatusLine, interrupts: Interrupts) -> Outcome:
    """Run the notebook at ``path`` into ``output`` (kept as given, or as ``.failed`` beside it)."""
    failed = output.with_name(output.stem + ".failed.ipynb")
    partial = output.with_name(f".{output.stem}.partial.ipynb")
    tmp = Path(tempfile.mkdtemp(prefix="gdlib-runner-")).resolve()  # TMPDIR=. : the kernel runs elsewhere
    try:
        _write_spec(tmp, path, partial, parameters, kernel)
        child_env = {**env, progress.ENV: str(tmp / "progress.log")}
        start = time.perf_counter()
        child = subprocess.Popen([sys.executable, "-c", "import gdlib.execution as e; e.child_main()",
                                  str(tmp / "spec.json")], env=child_env, start_new_session=True)
        watched = _watch(child, tmp, status, interrupts)
        status.clear()
        child.returncode = os.waitstatus_to_exitcode(watched.code)  # reaped here: Popen must not wait again
        wall = time.perf_counter() - start
        # Linux reports ru_maxrss in KiB, macOS in bytes.
        peak = watched.usage.ru_maxrss / (2**20 if sys.platform == "darwin" else 2**10)
        state, message = _conclude(watched, _read_json(tmp / "result.json"), interrupts, partial, child.returncode)
        executed = None
        if partial.exists():
            keep = output if state == "ok" else failed
            os.replace(partial, keep)
            executed = keep
        (failed if state == "ok" else output).unlink(missing_ok=True)
        return Outcome(state, message, wall, peak, executed)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _write_spec(tmp: Path, path: Path, partial: Path, parameters: dict[str, Any], kernel: str) -> None:
    """The child's instructions (``spec.json``) and the empty files it reports through, in ``tmp``."""
    spec = {"input": str(path), "output": str(partial), "parameters": parameters, "kernel": kernel,
            "cwd": str(path.parent), "events": str(tmp / "events.jsonl"), "result": str(tmp / "result.json"),
            "sockets": str(tmp)}
    (tmp / "spec.json").write_text(json.dumps(spec, default=str))
    (tmp / "progress.log").touch()
    (tmp / "events.jsonl").touch()


def _watch(child: subprocess.Popen, tmp: Path, status: progress.StatusLine, interrupts: Interrupts) -> _Watched:
    """Show the child's running cell and bars until it exits; on a signal interrupt its kernel, and kill
    the kernel and the child after :data:`GRACE_S` seconds or at a second signal."""
    events, bars = progress.Tail(tmp / "events.jsonl"), progress.Tail(tmp / "progress.log")
    kernel_info: dict[str, Any] = {}
    cell: dict[str, Any] = {}
    stop_at = kill_at = None
    while True:
        pid, code, usage = os.wait4(child.pid, os.WNOHANG)
        for _, kind, text in events.read():
            info = json.loads(text)
            if kind == "kernel":
                kernel_info = info
            else:
                cell = info
                status.set_cell(f"cell {info['index']}/{info['count']}: {info['line'][:60]}")
        status.feed(bars.read())
        if pid:
            return _Watched(code, usage, kernel_info, cell, kill_at is not None)
        now = time.monotonic()
        if interrupts.received and stop_at is None:
            status.clear()
            print(f"\n{interrupts.name}: stopping the notebook (up to {GRACE_S:.0f} s; again to kill it now)",
                  file=sys.stderr, flush=True)
            stop_at, signals_seen = now, len(interrupts.received)
            if kernel_info.get("pgid"):
                _killpg(kernel_info["pgid"], signal.SIGINT)  # as Jupyter's interrupt button
            else:
                kill_at = now  # the kernel is not up yet: nothing to interrupt
        if stop_at is not None and kill_at is None and (now - stop_at > GRACE_S
                                                        or len(interrupts.received) > signals_seen):
            kill_at = now
        if kill_at is not None:
            _killpg(kernel_info.get("pgid"), signal.SIGKILL)
            _killpg(child.pid, signal.SIGKILL)
        status.render()
        time.sleep(POLL_S)


def _conclude(watched: _Watched, result: dict | None, interrupts: Interrupts, partial: Path,
              returncode: int) -> tuple[str, str]:
    """(status, message) of the run; an interrupted run also drops the kernel's connection file and, when
    the kernel was killed, marks the cell it stopped in."""
    cell = watched.cell
    if interrupts.received:
        why = f"interrupted by {interrupts.name}"
        where = f" in {result['where']}" if result and result.get("where") else \
            f" in cell {cell['index']} of the executed copy ({cell['line'][:60]!r})" if cell else ""
        message = why + where + (f"; the kernel did not stop within {GRACE_S:.0f} s and was killed"
                                 if watched.killed else "")
        _remove(watched.kernel.get("connection_file"))
        if watched.killed and cell and partial.exists():
            _mark_interrupted(partial, cell["index"], message)
        return "interrupted", message
    if result is None:
        return "failed", f"the runner's child process exited with code {returncode}"
    return result["status"], result["message"]


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _remove(path: str | None) -> None:
    if path:
        Path(path).unlink(missing_ok=True)


def _mark_interrupted(path: Path, index: int, message: str) -> None:
    """Add an error output to the cell that was running, so the executed copy says where it stopped."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    if 0 <= index < len(nb.cells):
        nb.cells[index].setdefault("outputs", []).append(nbformat.v4.new_output(
            "error", ename="Interrupted", evalue=message, traceback=[f"Interrupted: {message}"]))
        atomic_write_text(path, nbformat.writes(nb))


# --- the child process ------------------------------------------------------------------------------

def child_main() -> None:
    """The child's side: run papermill on the spec in ``sys.argv[1]``; write the result and events."""
    spec = json.loads(Path(sys.argv[1]).read_text())
    kernel: dict[str, Any] = {}  # the kernel once started: pid, process group, connection file

    def event(kind: str, info: dict) -> None:
        with open(spec["events"], "a") as fh:
            fh.write(f"{os.getpid()}\t{kind}\t{json.dumps(info)}\n")

    _watch_parent(kernel, spec["sockets"])
    engine.register(kernel, event, spec["sockets"])
    result = _run_papermill(spec, event)
    Path(spec["result"]).write_text(json.dumps(result))
    sys.exit(0 if result["status"] == "ok" else 1)


def _watch_parent(kernel: dict[str, Any], folder: str) -> None:
    """A thread that, should the runner die without stopping this child, kills the kernel, removes the
    runner's temporary ``folder`` (the kernel's sockets are in it) and exits."""
    parent = os.getppid()

    def orphan_watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        _killpg(kernel.get("pgid"), signal.SIGKILL)
        _remove(kernel.get("connection_file"))
        shutil.rmtree(folder, ignore_errors=True)
        os._exit(1)

    threading.Thread(target=orphan_watch, daemon=True).start()


def _run_papermill(spec: dict[str, Any], event: Callable[[str, dict], None]) -> dict[str, Any]:
    """Execute the notebook with the "gdlib" engine, reporting each code cell as a "cell" event when it
    starts; the result: ``status`` "ok" or "failed", ``message``, and ``where`` for a cell that raised."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    def on_cell_start(cell, cell_index, **_):
        if cell.cell_type != "code" or not cell.source.strip():
            return
        line = next((ln.strip() for ln in cell.source.splitlines() if ln.strip() and not ln.startswith("#")), "")
        event("cell", {"index": cell_index, "count": count[0], "line": line})

    count = [0]

    def on_notebook_start(notebook, **_):
        count[0] = len(notebook.cells)

    result: dict[str, Any] = {"status": "ok", "message": ""}
    try:
        papermill.execute_notebook(spec["input"], spec["output"], parameters=spec["parameters"],
                                   kernel_name=spec["kernel"], cwd=spec["cwd"], progress_bar=False, log_output=False,
                                   engine_name="gdlib", on_cell_start=on_cell_start,
                                   on_notebook_start=on_notebook_start)
    except PapermillExecutionError as err:
        first_line = next((line for line in err.source.splitlines() if line.strip()), "")
        where = f"cell {err.cell_index} of the executed copy (In [{err.exec_count}]: {first_line.strip()[:80]!r} ...)"
        result.update(status="failed", where=where, message=f"{where} raised {err.ename}: {err.evalue}")
    except Exception as err:  # the kernel died or could not start, the notebook is unreadable, ...
        result.update(status="failed", message=f"{type(err).__name__}: {err}")
    return result
