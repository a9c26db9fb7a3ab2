"""A person running a notebook in JupyterLab gets the sizes of the profile its PROFILE names; the runner's
and papermill's values, and values set by hand, win (issue 13, point 10)."""

from __future__ import annotations

import ast

import nbformat
import pytest

from gdlib.parameters import NOTEBOOKS_DIR, ParameterError, UsageError, declared, interactive_profile, load_profile

NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("0*.ipynb"))


def parameters_and_call(path) -> tuple[str, str]:
    """The parameters cell's source and the line of the next cell that calls interactive_profile."""
    nb = nbformat.read(path, as_version=4)
    i = next(k for k, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    calls = [line for line in nb.cells[i + 1].source.splitlines() if "interactive_profile(" in line]
    return nb.cells[i].source, calls[0] if calls else ""


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_each_notebook_applies_its_own_profile_section_right_after_its_parameters(path):
    _, call = parameters_and_call(path)
    assert call == f'globals().update(interactive_profile("{path.stem}", globals()))  # JupyterLab: PROFILE\'s values'


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
@pytest.mark.parametrize("profile", ["smoke", "extended", "full", "gpu-check"])
def test_running_the_cell_with_another_profile_gives_the_runners_values(path, profile):
    source, call = parameters_and_call(path)
    namespace: dict = {"interactive_profile": interactive_profile}
    exec(source, namespace)
    namespace["PROFILE"] = profile  # what a person edits in the cell
    exec(call, namespace)
    sections = load_profile(profile)
    wanted = {**sections.get("common", {}), **sections.get(path.stem, {})}
    defaults = declared(path)
    for name, value in wanted.items():
        if name in defaults and name not in ("PROFILE", "OUTPUT_DIR", "INTERACTIVE"):
            expected = float(value) if isinstance(defaults[name], float) else value
            assert namespace[name] == expected, name
    assert namespace["PROFILE"] == profile and namespace["INTERACTIVE"] is True


def test_under_the_runner_nothing_changes_so_p_values_win():
    stem = "05_composition"
    namespace = {**declared(NOTEBOOKS_DIR / f"{stem}.ipynb"), "PROFILE": "full", "INTERACTIVE": False}
    assert interactive_profile(stem, namespace) == {}


def test_the_profile_wins_over_the_cell_and_says_what_it_changed(capsys):
    stem = "05_composition"
    defaults = declared(NOTEBOOKS_DIR / f"{stem}.ipynb")
    full = load_profile("full")[stem]
    assert full["N"] != defaults["N"] and "SIGMA" not in full
    # edited in the cell (and saved or not): the profile's N replaces it, as under the runner; SIGMA, which the
    # profile does not set, keeps the cell's value
    namespace = {**defaults, "PROFILE": "full", "N": 24, "SIGMA": 2.0}
    out = interactive_profile(stem, namespace)
    assert out["N"] == full["N"] and "SIGMA" not in out and out["WIDTH"] == full["WIDTH"]
    assert f"N: 24 -> {full['N']!r}" in capsys.readouterr().out


def test_the_committed_profile_quick_changes_nothing():
    for path in NOTEBOOKS:
        assert interactive_profile(path.stem, {**declared(path), "PROFILE": "quick"}) == {}, path.stem


def test_an_unknown_profile_and_a_value_of_the_wrong_type_are_refused(tmp_path):
    stem = "01_datasets"
    defaults = declared(NOTEBOOKS_DIR / f"{stem}.ipynb")
    with pytest.raises(UsageError, match="unknown profile 'fulll'.*full"):
        interactive_profile(stem, {**defaults, "PROFILE": "fulll"})
    (tmp_path / "bad.yaml").write_text(f"{stem}:\n  N: sixteen\n")
    with pytest.raises(ParameterError, match=r"profile 'bad': N = 'sixteen' is not allowed.*must be an integer"):
        interactive_profile(stem, {**defaults, "PROFILE": "bad"}, profiles_dir=tmp_path)


def test_the_parameters_cell_stays_literal_so_papermill_can_inject_after_it():
    for path in NOTEBOOKS:
        source, _ = parameters_and_call(path)
        assert all(isinstance(node, ast.Assign) for node in ast.parse(source).body), path.stem
