"""Progress reaches ./run_all.sh's terminal: library bars mirror to the runner's file, and the runner shows
the running cell and the bars (a live line on a terminal, a line at most every 30 s in a log)."""

from __future__ import annotations

import io
import os
import pty
import subprocess
import sys
import threading

import nbformat
import pytest

from gdlib import progress


def test_a_bar_mirrors_to_the_runners_file_only_when_one_is_named(tmp_path, monkeypatch):
    sink = tmp_path / "progress.log"
    sink.touch()
    monkeypatch.delenv(progress.ENV, raising=False)
    b = progress.bar(3, "quiet", visible=False)
    b.update()
    b.close()
    assert sink.read_text() == ""
    monkeypatch.setenv(progress.ENV, str(sink))
    b = progress.bar(3, "training tiny/abc", visible=False)
    b.update(3)
    b.set_postfix(loss="0.1")
    b.close()
    progress.note("waiting for model tiny/abc: locked by pid 1 on node-1")
    events = progress.Tail(sink).read()
    assert {pid for pid, _, _ in events} == {str(os.getpid())}
    kinds = [kind for _, kind, _ in events]
    assert kinds[0] == "bar" and kinds[-2:] == ["end", "note"]
    assert any(text.startswith("training tiny/abc: 100% 3/3") for _, kind, text in events if kind == "bar")


def test_the_status_line_in_a_log_prints_at_most_every_30_seconds(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(progress.time, "monotonic", lambda: clock[0])
    out = io.StringIO()
    status = progress.StatusLine(out, live=False)
    status.start("[5/7] 05_composition")
    status.set_cell("cell 7/31: sweep = run_sweep(...)")
    status.feed([("12", "bar", "training composition/ab12: 45% 630/1400 [01:10<01:25, loss=0.031]")])
    for t in (0, 10, 29.9, 30.1, 45, 59.9, 60.2, 61):
        clock[0] = 1000.0 + t
        status.render()
    lines = out.getvalue().splitlines()
    assert len(lines) == 2  # at 30.1 s and 60.2 s
    assert lines[0] == ("  ... [5/7] 05_composition | cell 7/31: sweep = run_sweep(...) (0:30) | "
                        "training composition/ab12: 45% 630/1400 [01:10<01:25, loss=0.031]")


def test_finished_bars_leave_the_status_line(monkeypatch):
    status = progress.StatusLine(io.StringIO(), live=False)
    status.start("[1/1] x")
    status.feed([("1", "bar", "sweep: 1/2"), ("2", "bar", "training a: 10%"), ("2", "end", "")])
    assert status.text().endswith("| sweep: 1/2")


COUNT = """
import subprocess, sys, time
from gdlib.progress import bar
b = bar(30, "counting", visible=False)
for _ in range(30):
    time.sleep(0.1)
    b.update()
b.close()
worker = "import time\\nfrom gdlib.progress import bar\\nb = bar(20, 'worker', visible=False)\\n" \\
         "for _ in range(20):\\n    time.sleep(0.1)\\n    b.update()\\nb.close()"
subprocess.run([sys.executable, "-c", worker], check=True)
"""


@pytest.mark.slow
def test_on_a_terminal_the_runner_shows_the_running_cell_and_the_bars_of_the_kernel_and_its_children(tmp_path):
    notebooks = tmp_path / "notebooks"
    (notebooks / "profiles").mkdir(parents=True)
    (notebooks / "profiles" / "smoke.yaml").write_text("{}\n")
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "gdlib", "display_name": "Python (gdlib)", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell('PROFILE = "full"\nOUTPUT_DIR = ""\nINTERACTIVE = True',
                                          metadata={"tags": ["parameters"]}), nbformat.v4.new_code_cell(COUNT)]
    nbformat.write(nb, notebooks / "01_count.ipynb")
    main, secondary = pty.openpty()
    runner = subprocess.Popen([sys.executable, "-m", "gdlib.runner", "--notebooks-dir", str(notebooks),
                               "--output-dir", str(tmp_path / "out"), "--profile", "smoke"],
                              stdout=secondary, stderr=subprocess.DEVNULL)
    os.close(secondary)
    chunks: list[bytes] = []

    def read() -> None:
        while True:
            try:
                data = os.read(main, 4096)
            except OSError:
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=read)
    reader.start()
    assert runner.wait(120) == 0
    reader.join(10)
    os.close(main)
    shown = b"".join(chunks).decode(errors="replace")
    assert "[1/1] 01_count: ok" in shown
    live = [part for part in shown.split("\r") if part.startswith("[1/1] 01_count | cell ")]
    assert any("cell 2/3: import subprocess, sys, time" in p and "counting: " in p for p in live), live
    assert any("worker: " in p for p in live), live  # a process the kernel started
