"""Shared test set-up: tests never write into the repository's outputs/ and always find the kernel.

* ``GDLIB_OUTPUTS`` points at a per-session temporary folder (see :mod:`gdlib.paths`).
* Tests marked ``slurm`` run against a real Slurm cluster (``.ci/run`` starts the local one with
  ``scripts/slurm-local.sh`` where it can); where none answers they are skipped with the reason.
* The Jupyter kernel ``gdlib`` (the kernelspec of every notebook) is declared, through
  ``JUPYTER_PATH``, as the interpreter running the tests, so a plain ``pytest`` works before
  ``./run_all.sh`` has installed the kernel into the environment.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
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


def slurm_unavailable() -> str | None:
    """Why the ``slurm`` tests cannot run here, or None when a cluster answers."""
    if shutil.which("sinfo") is None or shutil.which("sbatch") is None:
        return "no Slurm client tools (sinfo, sbatch) on PATH: start a local cluster with scripts/slurm-local.sh start"
    try:
        done = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        return "sinfo did not answer within 20 s"
    states = done.stdout.split()
    if done.returncode != 0 or not any(s.rstrip("*") in ("idle", "mixed", "allocated", "completing")
                                       for s in states):
        return f"no Slurm node takes jobs (sinfo: {(done.stdout or done.stderr).strip()[:200]!r}): " \
               "start one with scripts/slurm-local.sh start"
    return None


def pytest_collection_modifyitems(config, items):
    marked = [item for item in items if item.get_closest_marker("slurm")]
    if not marked:
        return
    why = slurm_unavailable()
    if why is not None:
        for item in marked:
            item.add_marker(pytest.mark.skip(reason=f"slurm: {why}"))


def pytest_report_header(config) -> list[str]:
    """The machine under the tests, at the top of every run (issue 19: a red run names its CPU): the CPU model, its
    bf16 and AMX flags, torch's version and the precision gdlib picks there (``GDLIB_BF16`` overrides it)."""
    import torch

    from gdlib import device

    model = device.cpu_model()
    flags = sorted(device.cpu_flags() & {"avx512_bf16", "amx_bf16", "amx_tile", "avx512f", "avx2"})
    precision = "fp32"
    if device.bf16_supported("cpu"):  # below width 16 the CPU trains in fp32 unless GDLIB_BF16 forces it (device.py)
        precision = "bf16 autocast" if os.environ.get("GDLIB_BF16") else \
            f"bf16 autocast from UNet width {device.CPU_BF16_MIN_WIDTH}, fp32 below"
    return [f"cpu: {model}; flags: {' '.join(flags) or 'none of avx2/avx512f/avx512_bf16/amx'}; "
            f"{device.usable_cores()} cores",
            f"torch {torch.__version__}; gdlib's CPU precision: {precision} "
            f"(GDLIB_BF16={os.environ.get('GDLIB_BF16', 'unset')})"]

