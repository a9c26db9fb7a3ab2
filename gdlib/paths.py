"""Where things land: one place for the repository, outputs/ and data/ folders.

``GDLIB_OUTPUTS`` and ``GDLIB_DATA`` override the defaults (``<repo>/outputs``, ``<repo>/data``);
notebooks pass their ``OUTPUT_DIR`` parameter to :func:`set_outputs`.

Files are written atomically (:func:`atomic_write_bytes`), so a crash leaves no half file; a cache file
damaged otherwise (a copy cut short, a full disk on another machine, bit rot) is reported by
:class:`CorruptFileError` naming it and what to do, or moved aside by :func:`move_aside` with a
:class:`CorruptFileWarning` where the caller can fall back (recompute, an older state).
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def outputs_dir() -> Path:
    """The outputs folder (figures, claims, models, executed notebooks, REPORT.md)."""
    return Path(os.environ.get("GDLIB_OUTPUTS", REPO / "outputs")).resolve()


def data_dir() -> Path:
    """The cache folder for generated datasets."""
    return Path(os.environ.get("GDLIB_DATA", REPO / "data")).resolve()


def set_outputs(path: str | os.PathLike) -> Path:
    """Point this process (and what it starts) at another outputs folder; returns it, created."""
    path = Path(path).resolve()
    path.mkdir(parents=True, exist_ok=True)
    os.environ["GDLIB_OUTPUTS"] = str(path)
    return path


def why_not_writable(folder: str | os.PathLike) -> str | None:
    """Why ``folder`` cannot be used as (or created as) a writable folder, or None when it can. A probe
    folder is made and removed in the nearest existing ancestor: permission bits do not tell (root,
    read-only or special file systems such as /proc)."""
    existing = Path(folder)
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is not a folder"
    try:
        tempfile.TemporaryDirectory(dir=existing, prefix=".gdlib-write-probe-").cleanup()
    except OSError as err:
        return f"{existing} is not writable ({err.strerror})"
    return None


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` so that a crash leaves either the old file or the new one, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; these are ordinary shared outputs
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Text version of :func:`atomic_write_bytes`."""
    atomic_write_bytes(path, text.encode())


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    """JSON version of :func:`atomic_write_bytes` (sorted keys, indented)."""
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


class CorruptFileError(OSError):
    """A cache file that exists but cannot be read (truncated or corrupted); the message says what to do."""


class CorruptFileWarning(UserWarning):
    """A cache file could not be read and was moved aside; the caller fell back (see the message)."""


def describe_error(err: BaseException, limit: int = 160) -> str:
    """``Type: first line of the message`` (cut at ``limit`` characters), for one-line reports."""
    text = str(err).strip().splitlines()
    first = text[0] if text else ""
    first = first if len(first) <= limit else first[:limit - 3].rstrip() + "..."
    return f"{type(err).__name__}: {first}" if first else type(err).__name__


def move_aside(path: str | os.PathLike, err: BaseException, fallback: str) -> Path:
    """Rename the unreadable ``path`` to ``<name>.corrupt-<UTC time>`` (kept for inspection, never
    read again) and warn, saying what the caller does instead (``fallback``); returns the new path."""
    path = Path(path)
    aside = path.with_name(f"{path.name}.corrupt-{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}")
    os.replace(path, aside)
    warnings.warn(f"{path} could not be read ({describe_error(err)}); moved aside to {aside.name}; {fallback}",
                  CorruptFileWarning, stacklevel=3)
    return aside
