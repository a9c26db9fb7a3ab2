"""File locks that say who holds them and are taken over when their holder is gone.

One process trains a given model at a time (:func:`gdlib.training.get_or_train`), whether the others
run in this notebook, in worker processes or in Slurm jobs on other nodes of a shared file system.
A lock is a file created atomically (a hard link to a finished temporary file: atomic on local disks
and on NFS, so the file is never seen half written) that holds its holder's pid, host, boot, process
start time and since when it holds the lock; a thread of the holder refreshes its modification time
(a heartbeat) every :data:`HEARTBEAT_S` seconds.

A waiter says who holds the lock (pid, host, since when) when it starts waiting and every
:data:`REPEAT_WAIT_NOTE_S` seconds after. It takes the lock over, with a warning, when the holder is gone:

- on this host (same host name and boot): no live process with that pid and start time (a pid may
  be reused), or only its zombie. This is what a process killed with SIGKILL leaves behind.
- on another host: no heartbeat for :data:`STALE_AFTER_S` seconds (a node that died, a job killed
  with SIGKILL). Its pid cannot be checked from here.

Taking over is itself serialised (a ``.steal`` file taken the same way), and a holder only ever
removes a lock file that still carries its own token, so two waiters never both hold the lock.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from gdlib import progress

HEARTBEAT_S = 30.0
STALE_AFTER_S = 300.0
REPEAT_WAIT_NOTE_S = 600.0
_BROKEN_FILE_AFTER_S = 60.0  # an unreadable lock or .steal file this old is a crash's leftover


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def _start_time(pid: int) -> str:
    """The process's start time in clock ticks since boot (Linux), or "" where it cannot be read."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[1].split()[19]


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return False


@dataclass(frozen=True)
class Holder:
    """Who holds a lock, as its file says."""

    pid: int
    host: str
    since: str  # UTC, ISO 8601
    boot: str = ""
    start: str = ""
    token: str = ""

    @classmethod
    def me(cls) -> Holder:
        pid = os.getpid()
        return cls(pid, socket.gethostname(), datetime.now(UTC).isoformat(timespec="seconds"), _boot_id(),
                   _start_time(pid), uuid.uuid4().hex)

    def describe(self) -> str:
        try:
            age = time.time() - datetime.fromisoformat(self.since).timestamp()
            ago = f", {_duration(age)} ago"
        except ValueError:
            ago = ""
        return f"pid {self.pid} on {self.host} since {self.since}{ago}"

    def gone(self, heartbeat_age_s: float) -> str | None:
        """Why this holder is gone (a sentence), or None while it may still be working."""
        if self.host == socket.gethostname() and (not self.boot or self.boot == _boot_id()):
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                return "its process no longer exists"
            except PermissionError:
                pass  # another user's live process
            if self.start and _start_time(self.pid) not in ("", self.start):
                return "its pid now belongs to another process"
            if _is_zombie(self.pid):
                return "its process has exited"
            return None
        if self.host == socket.gethostname():
            return "this host has rebooted since"
        if heartbeat_age_s > STALE_AFTER_S:
            return f"no heartbeat for {_duration(heartbeat_age_s)} (the lock is refreshed every {HEARTBEAT_S:.0f} s)"
        return None


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds / 3600:.1f} h"


def _create(path: Path, text: str) -> bool:
    """Create ``path`` holding ``text`` if it does not exist; False if it does."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        except OSError:  # a file system without hard links: exclusive creation instead
            try:
                with open(path, "x") as fh:
                    fh.write(text)
            except FileExistsError:
                return False
        return True
    finally:
        os.unlink(tmp)


def read_holder(path: str | os.PathLike) -> tuple[Holder | None, float]:
    """(holder, seconds since its last heartbeat) of the lock file ``path``; (None, age) when it exists
    but cannot be read; (None, -1) when there is no such file."""
    path = Path(path)
    try:
        age = time.time() - path.stat().st_mtime
        blob = json.loads(path.read_text())
        return Holder(**blob), age
    except FileNotFoundError:
        return None, -1.0
    except (OSError, ValueError, TypeError):
        try:
            return None, time.time() - path.stat().st_mtime
        except OSError:
            return None, -1.0


def _note(text: str) -> None:
    print(text, file=sys.stderr, flush=True)
    progress.note(text)  # shown by ./run_all.sh while a notebook waits


class RunLock:
    """An exclusive lock on ``path`` (a file; its folder is created), as a context manager.

    ``what`` names the locked thing in messages; ``note`` receives them (default: stderr).
    """

    def __init__(self, path: str | os.PathLike, what: str = "", note=None) -> None:
        self.path = Path(path)
        self.what = what or str(self.path)
        self.note = note or _note
        self._me: Holder | None = None
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    # acquiring -------------------------------------------------------------------------------
    def acquire(self, timeout: float | None = None) -> bool:
        """Wait for the lock (at most ``timeout`` seconds when given); True once held."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        me = Holder.me()
        text = json.dumps(me.__dict__)
        start, last_note, poll = time.monotonic(), None, 0.05
        while True:
            if _create(self.path, text):
                self._me = me
                self._stop.clear()
                self._beat = threading.Thread(target=self._heartbeat, name=f"lock {self.path.name}", daemon=True)
                self._beat.start()
                if last_note is not None:
                    self.note(f"lock on {self.what}: acquired after {_duration(time.monotonic() - start)}")
                return True
            holder, age = read_holder(self.path)
            why = self._why_stale(holder, age)
            if why is not None:
                self._steal(holder, age, why)
                continue
            now = time.monotonic()
            if holder is not None and (last_note is None or now - last_note > REPEAT_WAIT_NOTE_S):
                self.note(f"waiting for {self.what}: locked by {holder.describe()} ({self.path})")
                last_note = now
            if timeout is not None and now - start >= timeout:
                return False
            time.sleep(poll)
            poll = min(2.0, poll * 1.5)

    def _why_stale(self, holder: Holder | None, age: float) -> str | None:
        if age < 0:
            return None  # released meanwhile: try again at once
        if holder is None:
            return "its lock file is unreadable" if age > _BROKEN_FILE_AFTER_S else None
        return holder.gone(age)

    def _steal(self, stale: Holder | None, age: float, why: str) -> None:
        guard = self.path.with_name(self.path.name + ".steal")
        guard_holder, guard_age = read_holder(guard)
        if guard_age > _BROKEN_FILE_AFTER_S:
            guard.unlink(missing_ok=True)  # a waiter died while taking over: its guard is a leftover
        if not _create(guard, json.dumps(Holder.me().__dict__)):
            time.sleep(0.05)  # another waiter is taking over; look again
            return
        try:
            now, _ = read_holder(self.path)
            if now == stale:  # still the same dead holder (not one that took over meanwhile)
                self.path.unlink(missing_ok=True)
                who = stale.describe() if stale is not None else "an unknown holder"
                self.note(f"lock on {self.what} was held by {who}, which is gone ({why}): taking it over "
                          f"({self.path})")
        finally:
            guard.unlink(missing_ok=True)

    # holding -----------------------------------------------------------------------------------
    def _heartbeat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            holder, _ = read_holder(self.path)
            if holder is None or holder.token != self._me.token:
                self.note(f"lock on {self.what} was taken over by another process while held here")
                return
            try:
                os.utime(self.path)
            except OSError:
                pass

    def release(self) -> None:
        """Give the lock up; a lock file taken over by another process meanwhile is left alone."""
        if self._me is None:
            return
        self._stop.set()
        holder, _ = read_holder(self.path)
        if holder is not None and holder.token == self._me.token:
            self.path.unlink(missing_ok=True)
        self._me = None

    @property
    def held(self) -> bool:
        return self._me is not None

    def __enter__(self) -> RunLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
