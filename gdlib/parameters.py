"""Notebook parameters: what each notebook declares, the profiles, and checking each value a run would
inject against the notebook's declaration before anything runs.

A notebook declares its parameters as ``NAME = literal`` lines in its cell tagged ``parameters``
(papermill's convention). The default's type is the parameter's type, and every value a run would
inject (from a profile or from ``-p``) is checked against it before the first notebook starts, so a
typo fails in a second, not after an hour of training. The rules:

- ``int``: an integer; a float with a whole value (``1e3``) is taken as that integer. Never a bool.
- ``float``: any number; an integer becomes a float (``-p MARGIN 6`` is 6.0, which keeps cache keys
  equal, :mod:`gdlib.keys`).
- ``bool``: true/false (YAML also reads yes/no/on/off).
- ``str``: ``-p`` text is taken as typed: ``-p MODEL_NAME yes`` is ``"yes"``, not YAML's True, and
  ``-p TAG 123`` is ``"123"``; YAML quotes are removed (``-p TAG '"a b"'``).
- ``list``: a YAML list; when the default's elements share one type (``[2, 4, 8]``), each element
  follows that type's rule. A single element value also passes: notebooks such as 06 take
  ``STEPS: 4`` as well as one value per size.
- ``dict``: a YAML mapping; its values follow the type the default's values share.
- a ``None`` default, or one that is not a literal: any value.

``-p`` text is read as YAML (as papermill's ``-y``), except that ``1e-3`` is a number (YAML 1.1, which
PyYAML follows, wants ``1.0e-3``), also inside lists and in the profiles.
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from gdlib.paths import REPO

NOTEBOOKS_DIR = REPO / "notebooks"


class UsageError(ValueError):
    """Bad input (profile, notebook, parameter, kernel, output folder), found before any notebook runs."""


class ParameterError(UsageError):
    """A value a notebook cannot take; the message names the value, its source and what is allowed."""


class Text(str):
    """A value exactly as typed on the command line (``-p NAME VALUE``), to be read by the parameter's type."""


class _Loader(yaml.SafeLoader):
    """YAML with ``1e-3`` read as a float."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float", re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"))


def load_yaml(text: str) -> Any:
    """YAML as the runner reads it (see the module docstring); raises yaml.YAMLError."""
    return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass


def available_profiles(profiles_dir: str | os.PathLike | None = None) -> list[str]:
    """Profile names, one per ``<name>.yaml`` in ``profiles_dir``."""
    return sorted(p.stem for p in Path(profiles_dir or NOTEBOOKS_DIR / "profiles").glob("*.yaml"))


def load_profile(name: str, profiles_dir: str | os.PathLike | None = None) -> dict[str, dict[str, Any]]:
    """The sections of ``<profiles_dir>/<name>.yaml`` (an empty or null section reads as ``{}``)."""
    profiles_dir = Path(profiles_dir or NOTEBOOKS_DIR / "profiles")
    allowed = available_profiles(profiles_dir)
    if name not in allowed:
        raise UsageError(f"unknown profile {name!r}: allowed profiles are {', '.join(allowed) or '(none)'} "
                         f"(the *.yaml files in {profiles_dir})")
    path = profiles_dir / f"{name}.yaml"
    try:
        blob = load_yaml(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise UsageError(f"profile {path} is not valid YAML: {err}") from err
    if not isinstance(blob, dict) or not all(isinstance(v or {}, dict) for v in blob.values()):
        raise UsageError(f"profile {path} must map section names (common, 01_datasets, ...) to parameter mappings")
    return {str(section): values or {} for section, values in blob.items()}


def profile_values(sections: Mapping[str, Mapping[str, Any]], stem: str) -> dict[str, Any]:
    """What a profile gives notebook ``stem``: its ``common`` section, then the notebook's own section over it."""
    return {**sections.get("common", {}), **sections.get(stem, {})}


def merge_parameters(sections: Mapping[str, Mapping[str, Any]], stem: str, declared: Iterable[str], profile: str,
                     output_dir: str | os.PathLike, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """What notebook ``stem`` receives: common < its section < runner values < overrides, declared only."""
    merged = profile_values(sections, stem)
    merged.update(PROFILE=profile, OUTPUT_DIR=str(Path(output_dir).resolve()), INTERACTIVE=False)
    merged.update(overrides or {})
    declared = set(declared)
    return {name: value for name, value in merged.items() if name in declared}


def declared(notebook: str | os.PathLike) -> dict[str, Any]:
    """{name: default} of the ``NAME = literal`` lines of the notebook's ``parameters`` cell, in order
    (``...`` for a default that is not a literal)."""
    import nbformat

    nb = nbformat.read(os.fspath(notebook), as_version=4)
    cells = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    out: dict[str, Any] = {}
    for cell in cells[:1]:
        for node in ast.parse(cell.source).body:
            target = node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else \
                node.target if isinstance(node, ast.AnnAssign) else None
            if isinstance(target, ast.Name) and node.value is not None:
                try:
                    out[target.id] = ast.literal_eval(node.value)
                except ValueError:
                    out[target.id] = ...
    return out


def _kind(default: Any) -> str:
    if default is None or default is ...:
        return "any value"
    if isinstance(default, bool):
        return "true or false"
    if isinstance(default, int):
        return "an integer"
    if isinstance(default, float):
        return "a number"
    if isinstance(default, str):
        return "text"
    if isinstance(default, (list, tuple)):
        inner = _shared(default)
        return "a list" + (f" of {_plural(inner)}" if inner is not None else "")
    if isinstance(default, dict):
        inner = _shared(list(default.values()))
        return "a mapping" + (f" to {_plural(inner)}" if inner is not None else "")
    return "any value"


def _plural(example: Any) -> str:
    return {"an integer": "integers", "a number": "numbers", "text": "texts", "true or false": "booleans"}.get(
        _kind(example), "values")


def _shared(values: list) -> Any:
    """An example of the one type all ``values`` share (numbers count as one), or None."""
    if not values:
        return None
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return 0.0 if any(isinstance(v, float) for v in values) else 0
    kinds = {type(v) for v in values}
    return values[0] if len(kinds) == 1 and kinds.pop() in (str, bool) else None


def _from_text(text: Text, default: Any) -> Any:
    """Read command-line text the way the parameter's type wants it."""
    if isinstance(default, str) and default is not ...:
        stripped = text.strip()
        if len(stripped) >= 2 and stripped[0] == stripped[-1] and stripped[0] in "'\"":
            return load_yaml(stripped)
        return str(text)
    if isinstance(default, (list, tuple)) and isinstance(_shared(list(default)), str):
        return yaml.load(text, Loader=yaml.BaseLoader)  # every element as typed: [yes, 1] is ["yes", "1"]
    return load_yaml(text)


def _convert(value: Any, default: Any) -> Any:
    """``value`` in the default's type, or raise ValueError."""
    kind = _kind(default)
    if kind == "any value":
        return value
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
    elif isinstance(default, int):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
    elif isinstance(default, float):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif isinstance(default, str):
        if isinstance(value, str):
            return value
    elif isinstance(default, (list, tuple)):
        inner = _shared(list(default))
        if isinstance(value, (list, tuple)):
            return [v if inner is None else _convert(v, inner) for v in value]
        if inner is not None:
            return _convert(value, inner)  # one element stands for the list (see the module docstring)
    elif isinstance(default, dict):
        inner = _shared(list(default.values()))
        if isinstance(value, dict):
            return {k: v if inner is None else _convert(v, inner) for k, v in value.items()}
    raise ValueError(kind)


def check(name: str, value: Any, default: Any, notebook: str, source: str) -> Any:
    """``value`` (a Python value, or :class:`Text` from ``-p``) converted to the type of ``default``,
    which ``notebook`` declares; raise :class:`ParameterError` naming ``source`` otherwise."""
    shown = f"{str(value)!r}" if isinstance(value, Text) else repr(value)
    try:
        if isinstance(value, Text):
            value = _from_text(value, default)
        return _convert(value, default)
    except (ValueError, yaml.YAMLError) as err:
        kind = _kind(default)
        hint = ""
        if isinstance(value, bool) and isinstance(default, str):
            hint = " (YAML reads yes/no/on/off as booleans: quote the text, e.g. \"yes\")"
        elif isinstance(err, yaml.YAMLError):
            hint = f" (not valid YAML: {str(err).splitlines()[0]})"
        raise ParameterError(f"{source}: {name} = {shown} is not allowed: {notebook} declares {name} = {default!r}, "
                             f"so it must be {kind}{hint}") from None


RUNNER_NAMES = ("PROFILE", "OUTPUT_DIR", "INTERACTIVE")


def interactive_profile(stem: str, namespace: Mapping[str, Any],
                        profiles_dir: str | os.PathLike | None = None) -> dict[str, Any]:
    """When a person runs notebook ``stem`` in JupyterLab (``INTERACTIVE`` true): the values that profile
    ``namespace["PROFILE"]`` gives (its ``common`` and ``stem`` sections, as the runner merges them), checked as
    the runner checks them, for each parameter the notebook declares and whose value they change. The profile
    wins over the parameters cell, as under the runner, and every change is printed (``N: 16 -> 32``); to change
    a value on top of a profile, assign it in a cell after this one. Under the runner (``INTERACTIVE`` false,
    which papermill users pass too: ``-p INTERACTIVE False``) it returns ``{}``, since the runner has injected the
    profile already and ``-p`` must win."""
    if not namespace.get("INTERACTIVE", False):
        return {}
    profile = str(namespace.get("PROFILE"))
    defaults = declared(NOTEBOOKS_DIR / f"{stem}.ipynb")
    sections = load_profile(profile, profiles_dir)
    out: dict[str, Any] = {}
    for name, value in profile_values(sections, stem).items():
        if name in RUNNER_NAMES or name not in defaults:
            continue
        value = check(name, value, defaults[name], f"{stem}.ipynb", f"profile {profile!r}")
        if name not in namespace or namespace[name] != value:
            out[name] = value
    if out:
        print(f"profile {profile!r}: " + "; ".join(f"{k}: {namespace.get(k)!r} -> {v!r}" for k, v in out.items()))
    return out
