"""pyproject.toml and environment.yml describe the same environment."""

from __future__ import annotations

import tomllib

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from gdlib.paths import REPO


def lower_bounds(requirements) -> dict[str, str]:
    """{package: lower bound} for requirement strings such as ``torch>=2.2``."""
    bounds = {}
    for text in requirements:
        req = Requirement(text)
        lows = [spec.version for spec in req.specifier if spec.operator == ">="]
        bounds[canonicalize_name(req.name)] = lows[0] if lows else ""
    return bounds


def pyproject_requirements() -> dict[str, str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return lower_bounds(project["dependencies"] + project["optional-dependencies"]["dev"])


def conda_environment() -> dict:
    return yaml.safe_load((REPO / "environment.yml").read_text())


def test_pyproject_and_environment_yml_name_the_same_packages_with_the_same_lower_bounds():
    conda_deps = conda_environment()["dependencies"]
    pip_lists = [d["pip"] for d in conda_deps if isinstance(d, dict) and "pip" in d]
    assert len(pip_lists) == 1, "environment.yml needs exactly one pip: list"
    assert lower_bounds(pip_lists[0]) == pyproject_requirements()


def test_every_requirement_has_a_lower_bound():
    assert all(pyproject_requirements().values())


def test_environment_yml_pins_python_3_11_and_installs_pip():
    conda_deps = [d for d in conda_environment()["dependencies"] if isinstance(d, str)]
    assert "python=3.11" in [d.replace(" ", "") for d in conda_deps]
    assert "pip" in conda_deps


def test_dev_extras_hold_the_test_and_lint_tools():
    assert {"pytest", "ruff"} <= set(lower_bounds(
        tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]["dev"]))
