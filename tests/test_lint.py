"""The repository passes ruff (rules in pyproject.toml; notebooks included)."""

from __future__ import annotations

import subprocess
import sys

from gdlib.paths import REPO


def test_ruff_check_passes_on_the_repository():
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "."], cwd=REPO,
                          capture_output=True, text=True)
    assert "No module named ruff" not in done.stderr, "ruff is a dev dependency: pip install -e '.[dev]'"
    assert done.returncode == 0, done.stdout + done.stderr
