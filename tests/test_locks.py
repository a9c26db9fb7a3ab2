"""Run locks: exclusive, say who holds them while others wait, and are taken over when the holder is gone."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gdlib import locks
from gdlib.locks import Holder, RunLock, read_holder

HOLD_FOREVER = """
import sys, time
from gdlib.locks import RunLock
lock = RunLock(sys.argv[1]); lock.acquire()
print("held", flush=True)
time.sleep(600)
"""


def start_holder(path: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLD_FOREVER, str(path)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_second_taker_waits_and_is_told_who_holds_the_lock(tmp_path):
    path = tmp_path / "run.lock"
    notes: list[str] = []
    first = RunLock(path)
    assert first.acquire(timeout=0)
    second = RunLock(path, what="model tiny/abc", note=notes.append)
    assert not second.acquire(timeout=0.3)
    assert len(notes) == 1
    assert notes[0].startswith("waiting for model tiny/abc: locked by ")
    assert f"pid {os.getpid()} on {socket.gethostname()} since 20" in notes[0]
    first.release()
    assert not path.exists()
    assert second.acquire(timeout=1) and second.held
    second.release()


@pytest.mark.slow
def test_a_lock_whose_holder_was_killed_is_taken_over_with_a_warning(tmp_path):
    path = tmp_path / "run.lock"
    holder = start_holder(path)
    notes: list[str] = []
    assert not RunLock(path, note=notes.append).acquire(timeout=0.2)  # alive: it waits
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    lock = RunLock(path, what="model tiny/abc", note=notes.append)
    start = time.monotonic()
    assert lock.acquire(timeout=5)
    assert time.monotonic() - start < 2
    assert any(f"held by pid {holder.pid}" in n and "which is gone (its process no longer exists)" in n for n in notes)
    lock.release()


def fake_lock(path: Path, host: str, heartbeat_age_s: float, pid: int = 12345) -> None:
    boot = locks._boot_id() if host == socket.gethostname() else "another boot"
    holder = Holder(pid, host, "2026-01-01T00:00:00+00:00", boot, "1", "token")
    path.write_text(json.dumps(holder.__dict__))
    then = time.time() - heartbeat_age_s
    os.utime(path, (then, then))


def test_a_holder_on_another_host_is_gone_only_after_its_heartbeat_stops(tmp_path):
    path = tmp_path / "run.lock"
    fake_lock(path, "node-17", heartbeat_age_s=60)
    notes: list[str] = []
    assert not RunLock(path, note=notes.append).acquire(timeout=0.2)
    assert "locked by pid 12345 on node-17 since 2026-01-01T00:00:00+00:00" in notes[0]
    fake_lock(path, "node-17", heartbeat_age_s=locks.STALE_AFTER_S + 60)
    lock = RunLock(path, note=notes.append)
    assert lock.acquire(timeout=1)
    assert "no heartbeat for 6 min" in notes[-1]
    lock.release()


def test_the_holder_refreshes_its_heartbeat(tmp_path, monkeypatch):
    monkeypatch.setattr(locks, "HEARTBEAT_S", 0.05)
    path = tmp_path / "run.lock"
    lock = RunLock(path)
    lock.acquire()
    old = time.time() - 1000
    os.utime(path, (old, old))
    time.sleep(0.3)
    assert read_holder(path)[1] < 10
    lock.release()


def test_release_leaves_alone_a_lock_another_process_took_over(tmp_path):
    path = tmp_path / "run.lock"
    lock = RunLock(path)
    lock.acquire()
    fake_lock(path, "node-17", heartbeat_age_s=0)  # as if another host had taken it over
    lock.release()
    assert read_holder(path)[0].host == "node-17"


CONTEND = """
import sys, time
from pathlib import Path
from gdlib.locks import RunLock
lock_path, log = sys.argv[1], Path(sys.argv[2])
for _ in range(15):
    with RunLock(lock_path, note=lambda text: None):
        with log.open("a") as fh:
            fh.write(f"enter {sys.argv[3]}\\n")
        time.sleep(0.002)
        with log.open("a") as fh:
            fh.write(f"exit {sys.argv[3]}\\n")
"""


@pytest.mark.slow
def test_three_processes_contending_for_a_stale_lock_never_hold_it_together(tmp_path):
    path, log = tmp_path / "run.lock", tmp_path / "log"
    fake_lock(path, socket.gethostname(), heartbeat_age_s=0, pid=2**22 + 7)  # a pid that does not exist here
    procs = [subprocess.Popen([sys.executable, "-c", CONTEND, str(path), str(log), str(i)]) for i in range(3)]
    assert all(p.wait(120) == 0 for p in procs)
    lines = log.read_text().split("\n")[:-1]
    assert len(lines) == 90
    for enter, leave in zip(lines[::2], lines[1::2]):
        assert enter.startswith("enter") and leave == enter.replace("enter", "exit")
    assert not path.exists()
