#!/usr/bin/env bash
# Set up on first use, then run the notebooks (python -m gdlib.runner does the rest):
#   ./run_all.sh [--profile smoke|quick|full] [--only 01,03] [-p NAME VALUE]... [--output-dir DIR]
#   ./run_all.sh --tests [pytest args]
# Uses the active virtualenv or conda env if there is one, else creates .venv here. Installs
# gdlib (pip install -e ".[dev]") again only when pyproject.toml changed, and (re)registers the
# Jupyter kernel "gdlib" when it does not point at this environment's python.
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
        if ! "$BASE" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
            echo "run_all.sh: needs Python >= 3.10 (3.11 recommended); '$BASE' is not. Set PYTHON=/path/to/python3.11" >&2
            exit 1
        fi
        echo "run_all.sh: creating .venv with $("$BASE" --version 2>&1)"
        "$BASE" -m venv .venv || { echo "run_all.sh: '$BASE -m venv' failed (on Debian/Ubuntu: apt install python3-venv)" >&2; exit 1; }
    fi
    export VIRTUAL_ENV="$REPO/.venv"
    export PATH="$VIRTUAL_ENV/bin:$PATH"
    PY="$VIRTUAL_ENV/bin/python"
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

if ! "$PY" - 2>/dev/null <<'PYEOF'
import sys
from jupyter_client.kernelspec import KernelSpecManager
sys.exit(KernelSpecManager().get_kernel_spec("gdlib").argv[0] != sys.executable)
PYEOF
then
    echo "run_all.sh: registering the Jupyter kernel 'gdlib' for $PY"
    "$PY" -m ipykernel install --user --name gdlib --display-name "Python (gdlib)"
fi

exec "$PY" -m gdlib.runner "$@"
