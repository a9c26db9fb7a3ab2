"""The Jupyter kernel "gdlib" belongs to the environment: ./run_all.sh installs it there (never in the
user's folder), so each checkout's runs use its own interpreter and its JupyterLab lists "Python (gdlib)"."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from gdlib.paths import REPO

ENV_KERNEL = Path(sys.prefix) / "share" / "jupyter" / "kernels" / "gdlib"

pytestmark = pytest.mark.skipif(sys.prefix == sys.base_prefix,
                                reason="the tests do not run in a virtualenv, so run_all.sh would set up another one")


def jupyter_env(tmp_path: Path) -> dict[str, str]:
    """This environment as a user's shell would have it, with an empty user-level Jupyter folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTER")}
    env.update(VIRTUAL_ENV=sys.prefix, JUPYTER_DATA_DIR=str(tmp_path / "user-data"),
               JUPYTER_CONFIG_DIR=str(tmp_path / "user-config"), JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"))
    return env


@pytest.mark.slow
def test_run_all_installs_the_kernel_into_the_environment_and_not_the_users_folder(tmp_path):
    aside = tmp_path / "kernel-aside"
    if ENV_KERNEL.exists():
        shutil.move(ENV_KERNEL, aside)
    try:
        env = jupyter_env(tmp_path)
        done = subprocess.run(["bash", str(REPO / "run_all.sh"), "--dry-run", "--profile", "smoke", "--only", "01",
                               "--output-dir", str(tmp_path / "out")], env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert "installing the Jupyter kernel 'gdlib' into" in done.stdout
        spec = json.loads((ENV_KERNEL / "kernel.json").read_text())
        assert spec["argv"][0] == sys.executable and spec["display_name"] == "Python (gdlib)"
        assert not (tmp_path / "user-data" / "kernels").exists()
        listed = subprocess.run([sys.executable, "-m", "jupyter", "kernelspec", "list", "--json"], env=env,
                                capture_output=True, text=True, check=True)
        assert Path(json.loads(listed.stdout)["kernelspecs"]["gdlib"]["resource_dir"]) == ENV_KERNEL
    finally:
        if not ENV_KERNEL.exists() and aside.exists():
            shutil.move(aside, ENV_KERNEL)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_jupyterlab_started_from_the_environment_lists_python_gdlib(tmp_path):
    if not (ENV_KERNEL / "kernel.json").exists():
        pytest.skip("the kernel is not installed in this environment yet (./run_all.sh installs it)")
    port, token = free_port(), "gdlib-test"
    root = ["--allow-root"] if os.geteuid() == 0 else []  # CI containers run as root
    lab = subprocess.Popen([sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", *root,
                            f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={tmp_path}"],
                           env=jupyter_env(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           start_new_session=True)
    try:
        deadline, specs = time.monotonic() + 90, None
        while specs is None and time.monotonic() < deadline and lab.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/kernelspecs?token={token}",
                                            timeout=5) as reply:
                    specs = json.load(reply)["kernelspecs"]
            except OSError:
                time.sleep(0.5)
        assert specs is not None, "JupyterLab did not answer"
        assert specs["gdlib"]["spec"]["display_name"] == "Python (gdlib)"
        assert specs["gdlib"]["spec"]["argv"][0] == sys.executable
    finally:
        if lab.poll() is None:
            os.killpg(lab.pid, 15)
            lab.wait(30)
