"""What each job of a sweep's Slurm array asks for, and reading it from a cluster's YAML file.

:class:`SlurmOptions` holds what sbatch needs on a real cluster: partition, account, QOS, constraint,
time limit, GPUs, CPUs and memory per job, extra ``#SBATCH`` lines and shell lines run before the job
(``module load ...``). A notebook builds it from its parameters, from one YAML file (or mapping)
named by a parameter, or both: :meth:`SlurmOptions.load`. Submitting and watching the jobs is
:mod:`gdlib.slurm_jobs`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from gdlib.checks import check_int, check_range


def _text(name: str, value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"{name} = {value!r} is not allowed: must be text")
    return value


def _lines(name: str, value: Any) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{name} = {value!r} is not allowed: must be a list of text lines")
    return tuple(value)


@dataclass(frozen=True)
class SlurmOptions:
    """What each job of a sweep's Slurm array asks for.

    ``partition``, ``account``, ``qos``, ``constraint``: sbatch's options of those names (None: the
    cluster's default). ``time_min``: the time limit per job; submitit signals a job 90 s before it.
    ``gpus_per_node``: GPUs per job (0: none asked). ``cpus_per_task``: None asks for the largest
    ``threads`` of the sweep's configs (what training uses). ``mem_gb``: None leaves the cluster's
    default. ``array_parallelism``: jobs of the array running at once. ``sbatch``: extra sbatch
    options, one per line (``--reservation=x``, ``--exclusive``; a leading ``#SBATCH`` is allowed).
    ``setup``: shell lines run in the job before Python starts (``module load cuda``). ``folder``: the
    job logs (default ``outputs/slurm/<name>``). ``cluster``: submitit's (None picks Slurm when sbatch
    is on PATH; ``"local"`` runs the jobs as local processes, for trying without a cluster).
    """

    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    constraint: str | None = None
    time_min: int = 8 * 60
    gpus_per_node: int = 0
    cpus_per_task: int | None = None
    mem_gb: float | None = None
    array_parallelism: int = 32
    sbatch: tuple[str, ...] = ()
    setup: tuple[str, ...] = ()
    folder: str | None = None
    cluster: str | None = None

    def __post_init__(self) -> None:
        for name in ("partition", "account", "qos", "constraint", "folder", "cluster"):
            object.__setattr__(self, name, _text(name, getattr(self, name)))
        for name in ("sbatch", "setup"):
            object.__setattr__(self, name, _lines(name, getattr(self, name)))
        check_int("time_min", self.time_min, 1)
        check_int("gpus_per_node", self.gpus_per_node, 0)
        if self.cpus_per_task is not None:
            check_int("cpus_per_task", self.cpus_per_task, 1)
        if self.mem_gb is not None:
            check_range("mem_gb", self.mem_gb, 0, math.inf, low_open=True)
        check_int("array_parallelism", self.array_parallelism, 1)
        self.additional_parameters()  # checks the sbatch lines

    @classmethod
    def load(cls, source: str | os.PathLike | Mapping | None = None, **defaults: Any) -> SlurmOptions:
        """Options from ``source`` (a YAML file's path, YAML mapping text such as
        ``"{account: abc, qos: high}"``, a dict, or None/"" for none) over ``defaults``.

        The keys are this class's field names. What ``source`` sets wins over ``defaults`` (a
        notebook's separate SLURM_* parameters), so a cluster's file is the whole truth for what it
        says; ``defaults`` fill in the rest, and None or "" in them means "not given".
        """
        given = {k: v for k, v in defaults.items() if v is not None and v != ""}
        from_source = _read_source(source)
        allowed = [f.name for f in fields(cls)]
        unknown = sorted(set(given) - set(allowed)) + sorted(set(from_source) - set(allowed))
        if unknown:
            raise ValueError(f"Slurm option(s) {', '.join(map(repr, unknown))} are not allowed: must be among "
                             f"{', '.join(allowed)}")
        return cls(**{**given, **from_source})

    def additional_parameters(self) -> dict[str, Any]:
        """The ``sbatch`` lines as submitit's ``slurm_additional_parameters`` ({option: value or True})."""
        out: dict[str, Any] = {}
        for line in self.sbatch:
            text = line.strip()
            if text.upper().startswith("#SBATCH"):
                text = text[len("#SBATCH"):].strip()
            if not text.startswith("--") or len(text) < 3 or " " in text.split("=", 1)[0]:
                raise ValueError(f"sbatch = {line!r} is not allowed: each line must be one long sbatch option, "
                                 "such as --reservation=name or --exclusive")
            option, _, value = text[2:].partition("=")
            out[option.replace("-", "_")] = value if value else True
        return out

    def executor_parameters(self, name: str, threads: int) -> dict[str, Any]:
        """submitit's parameters for a sweep called ``name`` whose configs train with up to ``threads``."""
        params: dict[str, Any] = dict(timeout_min=self.time_min, name=f"gdlib-{name}",
                                      cpus_per_task=self.cpus_per_task or threads,
                                      slurm_array_parallelism=self.array_parallelism)
        if self.gpus_per_node:
            params["gpus_per_node"] = self.gpus_per_node
        if self.mem_gb is not None:
            params["mem_gb"] = self.mem_gb
        for option in ("partition", "account", "qos", "constraint"):
            if getattr(self, option) is not None:
                params[f"slurm_{option}"] = getattr(self, option)
        if self.setup:
            params["slurm_setup"] = list(self.setup)
        if self.sbatch:
            params["slurm_additional_parameters"] = self.additional_parameters()
        return params

    def describe(self, threads: int = 1) -> str:
        """One line: what each job asks for."""
        parts = [f"{k} {getattr(self, k)}" for k in ("partition", "account", "qos", "constraint")
                 if getattr(self, k)]
        parts += [f"time {self.time_min} min", f"{self.gpus_per_node} GPU(s)",
                  f"{self.cpus_per_task or threads} CPU(s)",
                  f"memory {self.mem_gb:g} GB" if self.mem_gb is not None else "memory: the cluster's default",
                  f"{self.array_parallelism} at a time"]
        parts += [f"sbatch {line}" for line in self.sbatch] + [f"setup: {line}" for line in self.setup]
        return ", ".join(parts)


def _read_source(source: str | os.PathLike | Mapping | None) -> dict[str, Any]:
    if source is None or source == "":
        return {}
    if isinstance(source, Mapping):
        return dict(source)
    text, where = str(source), "SLURM_OPTIONS"
    if not text.lstrip().startswith("{"):
        path = Path(text).expanduser()
        if not path.is_file():
            raise ValueError(f"Slurm options file {text!r} does not exist (give a YAML file's path, or a mapping "
                             "such as {account: abc, qos: high})")
        text, where = path.read_text(), str(path)
    try:
        blob = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ValueError(f"Slurm options in {where} are not valid YAML: {err}") from err
    if blob is None:
        return {}
    if not isinstance(blob, dict):
        raise ValueError(f"Slurm options in {where} must map option names to values, got {blob!r}")
    return blob


__all__ = ["SlurmOptions"]
