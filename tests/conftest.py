"""Shared test set-up: tests never write into the repository's outputs/ and always find the kernel.

* ``GDLIB_OUTPUTS`` points at a per-session temporary folder (see :mod:`gdlib.paths`).
* The Jupyter kernel ``gdlib`` (the kernelspec of every notebook) is declared, through
  ``JUPYTER_PATH``, as the interpreter running the tests, so a plain ``pytest`` works before
  ``./run_all.sh`` has installed the kernel into the environment.
"""

from __future__ import annotations

import json
import os
import sys

import pytest


@pytest.fixture(scope="session", autouse=True)
def _isolated_outputs_and_kernel(tmp_path_factory):
    root = tmp_path_factory.mktemp("gdlib-session")
    kernel_dir = root / "jupyter" / "kernels" / "gdlib"
    kernel_dir.mkdir(parents=True)
    (kernel_dir / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python (gdlib, tests)",
        "language": "python",
    }))
    saved = {key: os.environ.get(key) for key in ("GDLIB_OUTPUTS", "JUPYTER_PATH")}
    os.environ["GDLIB_OUTPUTS"] = str(root / "outputs")
    os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(root / "jupyter"), saved["JUPYTER_PATH"]]))
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
