"""Where things land: one place for the repository, outputs/ and data/ folders.

``GDLIB_OUTPUTS`` and ``GDLIB_DATA`` override the defaults (``<repo>/outputs``, ``<repo>/data``);
notebooks pass their ``OUTPUT_DIR`` parameter to :func:`set_outputs`.
"""

from __future__ import annotations

import json
import os
import tempfile
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
