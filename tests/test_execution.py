"""SIGINT and SIGTERM stop a running notebook cleanly: the kernel and what it started are gone, the
executed copy is kept as .failed naming the cell, runs.csv and the report are written, locks released,
temporary files removed."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import nbformat
import pytest

from gdlib.engine import IPC_FOLDER_MAX, ipc_fits, ipc_kernel_manager
from gdlib.locks import RunLock


def write_notebook(path: Path, parameters: str, *cells: str) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "gdlib", "display_name": "Python (gdlib)", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(parameters, metadata={"tags": ["parameters"]})]
    nb.cells += [nbformat.v4.new_code_cell(source) for source in cells]
    nbformat.write(nb, path)


WAIT_IN_A_LOCK = """
import os, pathlib, signal, subprocess, sys, time
from gdlib.engine import IPC_FOLDER_MAX, ipc_fits, ipc_kernel_manager
from gdlib.locks import RunLock
if IGNORE_SIGINT:  # a cell that does not stop when interrupted: it must be killed, with what it started
    signal.signal(signal.SIGINT, signal.SIG_IGN)
child = subprocess.Popen(["sleep", "600"])
out = pathlib.Path(OUTPUT_DIR)
(out / "pids").write_text(f"{os.getpid()} {child.pid}")
with RunLock(out / "model.lock"):
    (out / "started").touch()
    for _ in range(6000):
        time.sleep(0.1)
"""


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def run_and_stop(tmp_path: Path, sig: int, ignore_sigint: bool) -> dict:
    notebooks = tmp_path / "notebooks"
    (notebooks / "profiles").mkdir(parents=True)
    (notebooks / "profiles" / "smoke.yaml").write_text(f"01_wait: {{IGNORE_SIGINT: {str(ignore_sigint).lower()}}}\n")
    write_notebook(notebooks / "01_wait.ipynb", 'PROFILE = "full"\nOUTPUT_DIR = ""\nINTERACTIVE = True\n'
                   "IGNORE_SIGINT = False\n", "x = 1", WAIT_IN_A_LOCK)
    out, temp, runtime = tmp_path / "out", short_temp(), tmp_path / "runtime"
    env = {**os.environ, "TMPDIR": str(temp), "JUPYTER_RUNTIME_DIR": str(runtime)}
    runner = subprocess.Popen([sys.executable, "-m", "gdlib.runner", "--notebooks-dir", str(notebooks),
                               "--output-dir", str(out), "--profile", "smoke"], env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not (out / "started").exists():
        assert runner.poll() is None and time.monotonic() < deadline, runner.communicate()
        time.sleep(0.1)
    kernel, child = map(int, (out / "pids").read_text().split())
    sockets = sorted(p.name for p in temp.glob("gdlib-runner-*/kernel-ipc-*"))
    beside = sorted(p.name for p in notebooks.iterdir())
    runner.send_signal(sig)
    stdout, stderr = runner.communicate(timeout=60)
    deadline = time.monotonic() + 10  # a killed kernel is an orphan: this container's init reaps it late
    while (alive(kernel) or alive(child)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return dict(code=runner.returncode, stdout=stdout, stderr=stderr, out=out, temp=temp, runtime=runtime,
                kernel=kernel, child=child, sockets=sockets, beside=beside, notebooks=notebooks)


def short_temp() -> Path:
    """An empty TMPDIR with a path short enough for the kernel's Unix sockets in the runner's folder."""
    temp = Path(tempfile.mkdtemp(prefix="gdlib-test-"))
    assert len(str(temp / "gdlib-runner-xxxxxxxx")) <= IPC_FOLDER_MAX
    return temp


def check_common(run: dict, sig: int) -> nbformat.NotebookNode:
    assert run["code"] == 128 + sig
    name = signal.Signals(sig).name
    assert f"{name}: stopping the notebook" in run["stderr"]
    assert f"INTERRUPTED: notebook 01_wait stopped: interrupted by {name} in cell 3 of the executed copy" \
           in run["stderr"]
    assert not alive(run["kernel"]) and not alive(run["child"])  # the kernel and what it started
    folder = run["out"] / "notebooks"
    assert sorted(p.name for p in folder.iterdir()) == ["01_wait.failed.ipynb"]  # no .partial, no .ipynb
    with (run["out"] / "runs.csv").open() as fh:
        assert [(r["notebook"], r["status"]) for r in csv.DictReader(fh)] == [("01_wait", "interrupted")]
    assert (run["out"] / "REPORT.md").exists() and "Report:" in run["stdout"]
    assert list(run["temp"].iterdir()) == []  # the runner's temporary folder is gone, with the sockets in it
    run["temp"].rmdir()
    assert not list(run["runtime"].glob("kernel-*"))  # and the kernel's connection file
    # issue 23: the kernel talked over Unix sockets in the runner's folder, none in the notebook's (the cwd)
    assert "Kernel is running over TCP" not in run["stderr"]
    assert run["sockets"] == [f"kernel-ipc-{i}" for i in range(1, 6)]  # shell, iopub, stdin, control, hb
    assert run["beside"] == sorted(p.name for p in run["notebooks"].iterdir()) == ["01_wait.ipynb", "profiles"]
    return nbformat.read(folder / "01_wait.failed.ipynb", as_version=4)


def waiting_cell(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    (cell,) = [c for c in nb.cells if "RunLock(out" in c.source]
    return cell


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_interrupts_the_running_cell_and_the_run_ends_cleanly(tmp_path, sig):
    run = run_and_stop(tmp_path, sig, ignore_sigint=False)
    nb = check_common(run, sig)
    errors = [o for o in waiting_cell(nb).outputs if o.output_type == "error"]
    assert [e.ename for e in errors] == ["KeyboardInterrupt"]  # papermill recorded it in the running cell
    assert not (run["out"] / "model.lock").exists()  # the cell's lock was released on the way out
    assert "Traceback" not in run["stderr"]  # no ZMQ or other traceback on the terminal


@pytest.mark.slow
def test_a_cell_that_ignores_the_interrupt_is_killed_with_its_children_after_the_grace_period(tmp_path):
    run = run_and_stop(tmp_path, signal.SIGTERM, ignore_sigint=True)
    nb = check_common(run, signal.SIGTERM)
    assert "the kernel did not stop within 10 s and was killed" in run["stderr"]
    marked = [o for o in waiting_cell(nb).outputs if o.output_type == "error"]
    assert marked and marked[-1].ename == "Interrupted" and "was killed" in marked[-1].evalue
    notes: list[str] = []
    lock = RunLock(run["out"] / "model.lock", note=notes.append)  # its holder is gone: taken over at once
    assert lock.acquire(timeout=5)
    assert "which is gone" in notes[0]
    lock.release()


@pytest.mark.slow
def test_a_runner_killed_with_sigkill_leaves_no_kernel_behind(tmp_path):
    # The runner cannot clean up after SIGKILL; its child notices and kills the kernel's process group.
    notebooks = tmp_path / "notebooks"
    (notebooks / "profiles").mkdir(parents=True)
    (notebooks / "profiles" / "smoke.yaml").write_text("{}\n")
    write_notebook(notebooks / "01_wait.ipynb", 'PROFILE = "full"\nOUTPUT_DIR = ""\nINTERACTIVE = True\n'
                   "IGNORE_SIGINT = False\n", "x = 1", WAIT_IN_A_LOCK)
    out, temp = tmp_path / "out", short_temp()
    runner = subprocess.Popen([sys.executable, "-m", "gdlib.runner", "--notebooks-dir", str(notebooks),
                               "--output-dir", str(out), "--profile", "smoke"], env={**os.environ, "TMPDIR": str(temp)},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not (out / "started").exists():
        assert runner.poll() is None and time.monotonic() < deadline
        time.sleep(0.1)
    kernel, child = map(int, (out / "pids").read_text().split())
    runner.kill()
    runner.wait()
    deadline = time.monotonic() + 15
    while (alive(kernel) or alive(child)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(kernel) and not alive(child)
    deadline = time.monotonic() + 5
    while list(temp.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert list(temp.iterdir()) == []  # the child removed the runner's folder and the sockets in it
    temp.rmdir()
    lock = RunLock(out / "model.lock", note=lambda text: None)  # left by the killed kernel: taken over
    assert lock.acquire(timeout=5)
    lock.release()


def test_a_run_from_another_thread_keeps_the_usual_signal_handling():
    # Python lets only the main thread set signal handlers; a run started elsewhere must not fail on it
    from gdlib.execution import Interrupts

    seen: dict = {}

    def enter():
        with Interrupts() as caught:
            seen["received"] = caught.received

    worker = threading.Thread(target=enter)
    worker.start()
    worker.join()
    assert seen == {"received": []}


def test_the_kernel_manager_binds_its_sockets_in_the_folder_it_is_given(tmp_path):
    manager = ipc_kernel_manager(str(tmp_path))()
    assert (manager.transport, manager.ip) == ("ipc", str(tmp_path / "kernel-ipc"))


def test_a_socket_folder_is_measured_in_bytes_as_the_socket_limit_is():
    assert ipc_fits("/t" * (IPC_FOLDER_MAX // 2)) and not ipc_fits("/t" * (IPC_FOLDER_MAX // 2) + "x")
    assert not ipc_fits("/" + "é" * (IPC_FOLDER_MAX // 2))  # 41 characters, 81 bytes
