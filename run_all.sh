#!/usr/bin/env bash
# Set up on first use, then run the notebooks (python -m gdlib.runner does the rest):
#   ./run_all.sh [--profile smoke|quick|extended|full] [--only 01,03] [-p NAME VALUE]... [--output-dir DIR]
#   ./run_all.sh --tests [pytest args]
# Uses the active virtualenv or conda env if there is one, else creates .venv here. Installs
# gdlib (pip install -e ".[dev]") again only when pyproject.toml changed, and installs the Jupyter
# kernel "gdlib" into that environment (share/jupyter/kernels, not the user's folder), so that every
# checkout's runs, and a JupyterLab started from its environment, use its own interpreter.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
REPO=$(pwd)

if [[ -n "${VIRTUAL_ENV:-}" ]]; then
    PY="$VIRTUAL_ENV/bin/python"
elif [[ -n "${CONDA_PREFIX:-}" && "${CONDA_DEFAULT_ENV:-}" != base ]]; then
    PY="$CONDA_PREFIX/bin/python"   # conda base does not count: installing there would pollute it
else
    if [[ ! -x .venv/bin/python ]]; then
        BASE=${PYTHON:-python3}
        if ! "$BASE" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            echo "run_all.sh: needs Python >= 3.11 (pyproject.toml); '$BASE' is not. Set PYTHON=/path/to/python3.11" >&2
            exit 1
        fi
        echo "run_all.sh: creating .venv with $("$BASE" --version 2>&1)"
        "$BASE" -m venv .venv || { echo "run_all.sh: '$BASE -m venv' failed (on Debian/Ubuntu: apt install python3-venv)" >&2; exit 1; }
    fi
    export VIRTUAL_ENV="$REPO/.venv"
    export PATH="$VIRTUAL_ENV/bin:$PATH"
    PY="$VIRTUAL_ENV/bin/python"
fi

if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "run_all.sh: needs Python >= 3.11 (pyproject.toml); the active environment has $("$PY" --version 2>&1)" >&2
    exit 1
fi

# Install only when pyproject.toml (or the checkout the editable install points to) changed.
STAMP="$("$PY" -c 'import sys; print(sys.prefix)')/.gdlib-install-stamp"
WANT="pyproject.toml sha256 $("$PY" -c 'import hashlib; print(hashlib.sha256(open("pyproject.toml", "rb").read()).hexdigest())')
checkout $REPO"
if [[ ! -f "$STAMP" || "$(cat "$STAMP")" != "$WANT" ]]; then
    echo "run_all.sh: installing gdlib and its dependencies with $PY"
    # torch first: a local CPU wheel where pip's config has one (--no-index fails fast elsewhere),
    # otherwise PyPI. Its own dependencies come with the next step.
    if ! "$PY" -c 'import torch' 2>/dev/null; then
        "$PY" -m pip install --no-index --no-deps "torch>=2.2" || "$PY" -m pip install "torch>=2.2"
    fi
    "$PY" -m pip install -e ".[dev]"
    printf '%s\n' "$WANT" > "$STAMP"
fi

# The kernel spec lives in the environment: a user-wide one would point at whichever checkout
# registered it last, and every other checkout's runs would silently use that environment.
KERNEL_JSON="$("$PY" -c 'import sys; print(sys.prefix)')/share/jupyter/kernels/gdlib/kernel.json"
if ! "$PY" - "$KERNEL_JSON" 2>/dev/null <<'PYEOF'
import json, sys
sys.exit(json.load(open(sys.argv[1]))["argv"][0] != sys.executable)
PYEOF
then
    echo "run_all.sh: installing the Jupyter kernel 'gdlib' into $("$PY" -c 'import sys; print(sys.prefix)')"
    "$PY" -m ipykernel install --sys-prefix --name gdlib --display-name "Python (gdlib)" >/dev/null
fi

exec "$PY" -m gdlib.runner "$@"
