"""Progress that reaches the terminal of ``./run_all.sh`` while a notebook runs.

Inside a notebook, tqdm draws a widget into the executed copy, and the runner's terminal sees nothing
for as long as a cell trains. So the library's progress bars (:func:`bar`: training, sweeps) and
one-off notes (:func:`note`: a lock wait) also append plain lines to the file the runner names in
``GDLIB_PROGRESS_FILE``, from the kernel and from every process it starts (sweep workers, jobs of the
local Slurm cluster). Each line is ``pid<TAB>kind<TAB>text`` with kind ``bar``, ``end`` or ``note``;
a bar writes at most once a second. Without the variable nothing is written.

The runner reads that file with :class:`Tail` and shows :class:`StatusLine`: the notebook, the cell
running and the latest bars, as one line rewritten in place on a terminal, or one line at most every
:data:`PLAIN_EVERY_S` seconds otherwise (CI logs).
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path
from typing import IO, Any

ENV = "GDLIB_PROGRESS_FILE"
PLAIN_EVERY_S = 30.0
LIVE_EVERY_S = 0.5
_SINK_FORMAT = "{desc}: {percentage:3.0f}% {n_fmt}/{total_fmt} [{elapsed}<{remaining}{postfix}]"


def _append(kind: str, text: str) -> None:
    path = os.environ.get(ENV)
    if not path:
        return
    line = f"{os.getpid()}\t{kind}\t{' '.join(text.split())[:400]}\n".encode()
    try:  # no O_CREAT: the runner creates the file, and a file gone means no runner is listening
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    except OSError:
        return
    try:
        os.write(fd, line)  # one small O_APPEND write: lines of several processes never interleave
    except OSError:
        pass
    finally:
        os.close(fd)


def note(text: str) -> None:
    """A one-off line for the runner's terminal (no-op outside a runner)."""
    _append("note", text)


class _SinkFile:
    """What tqdm writes to: each refresh ('\\r' + the bar) becomes one ``bar`` line."""

    def write(self, text: str) -> None:
        text = text.replace("\r", "").strip()
        if text:
            _append("bar", text)

    def flush(self) -> None:
        pass


class Bar:
    """A tqdm bar shown as tqdm.auto decides (``visible``: None = on a terminal, True, False = never),
    mirrored to the runner's progress file when there is one."""

    def __init__(self, total: int, desc: str, visible: bool | None = None, initial: int = 0) -> None:
        from tqdm.auto import tqdm
        from tqdm.std import tqdm as plain

        self.shown = None if visible is False else tqdm(total=total, desc=desc, initial=initial,
                                                          disable=None if visible is None else False)
        self.sink = None
        if os.environ.get(ENV):
            self.sink = plain(total=total, desc=desc, initial=initial, file=_SinkFile(), mininterval=1.0,
                              bar_format=_SINK_FORMAT, dynamic_ncols=False, ncols=200)

    def _each(self):
        return [b for b in (self.shown, self.sink) if b is not None]

    def update(self, n: int = 1) -> None:
        for b in self._each():
            b.update(n)

    def set_postfix(self, **values: Any) -> None:
        for b in self._each():
            b.set_postfix(**values, refresh=False)

    def close(self) -> None:
        for b in self._each():
            b.close()
        if self.sink is not None:
            _append("end", "")


def bar(total: int, desc: str, visible: bool | None = None, initial: int = 0) -> Bar:
    """See :class:`Bar`."""
    return Bar(total, desc, visible, initial)


# --- the runner's side ------------------------------------------------------------------------------

class Tail:
    """New complete lines of a growing file, as (pid, kind, text)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path, self.offset, self.rest = Path(path), 0, b""

    def read(self) -> list[tuple[str, str, str]]:
        try:
            with self.path.open("rb") as fh:
                fh.seek(self.offset)
                chunk = fh.read()
        except OSError:
            return []
        self.offset += len(chunk)
        lines = (self.rest + chunk).split(b"\n")
        self.rest = lines.pop()
        out = []
        for line in lines:
            parts = line.decode(errors="replace").split("\t", 2)
            if len(parts) == 3:
                out.append((parts[0], parts[1], parts[2]))
        return out


class StatusLine:
    """What the runner shows while a notebook runs (see the module docstring)."""

    def __init__(self, stream: IO[str] | None = None, live: bool | None = None,
                 plain_every_s: float = PLAIN_EVERY_S) -> None:
        self.stream = stream or sys.stdout
        self.live = self.stream.isatty() if live is None else live
        self.plain_every_s = plain_every_s
        self.prefix, self.cell, self.cell_start = "", "", time.monotonic()
        self.lines: dict[str, str] = {}  # pid -> latest bar or note
        self.drawn, self.last = 0, -float("inf")

    def start(self, prefix: str) -> None:
        self.prefix, self.cell, self.lines = prefix, "", {}
        self.last = time.monotonic()  # the runner just printed the notebook's first line

    def set_cell(self, text: str) -> None:
        self.cell, self.cell_start = text, time.monotonic()
        self.lines = {pid: line for pid, line in self.lines.items() if not line.startswith("waiting for")}

    def feed(self, events: list[tuple[str, str, str]]) -> None:
        for pid, kind, text in events:
            if kind == "end":
                self.lines.pop(pid, None)
            else:
                self.lines[pid] = text

    def text(self) -> str:
        took = int(time.monotonic() - self.cell_start)
        parts = [self.prefix]
        if self.cell:
            parts.append(f"{self.cell} ({took // 60}:{took % 60:02d})")
        parts += list(self.lines.values())[-3:]
        return " | ".join(p for p in parts if p)

    def render(self) -> None:
        now = time.monotonic()
        if self.live:
            if now - self.last < LIVE_EVERY_S:
                return
            width = shutil.get_terminal_size((120, 24)).columns - 1
            text = self.text()[:width]
            self.stream.write("\r" + text + " " * max(0, self.drawn - len(text)))
            self.drawn = len(text)
        else:
            if now - self.last < self.plain_every_s:
                return
            self.stream.write(f"  ... {self.text()}\n")
        self.stream.flush()
        self.last = now

    def clear(self) -> None:
        """Erase the live line before the runner prints something else."""
        if self.live and self.drawn:
            self.stream.write("\r" + " " * self.drawn + "\r")
            self.stream.flush()
            self.drawn = 0
