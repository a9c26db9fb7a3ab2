"""Slurm job arrays for sweeps (through submitit): what a cluster asks for, and watching the jobs.

:class:`SlurmOptions` holds what sbatch needs on a real cluster: partition, account, QOS, constraint,
time limit, GPUs, CPUs and memory per job, extra ``#SBATCH`` lines and shell lines run before the job
(``module load ...``). A notebook builds it from its parameters, from one YAML file (or mapping)
named by a parameter, or both: :meth:`SlurmOptions.load`.

How a sweep uses Slurm (:func:`gdlib.sweeps.run_sweep` with ``executor="slurm"``):

- Each submitted config gets a marker beside its run folder (``<key>.slurm``: job id, log folder).
  A rerun does not submit a config whose job is still queued or running (``squeue``): it waits for
  that job instead, so a rerun of a notebook whose array is queued never doubles it.
- An array sbatch refuses (a partition that does not exist, more CPUs or memory than a node has)
  fails each of its configs with sbatch's message.
- Waiting polls the result files and ``squeue``; a job that leaves the queue without a result
  (cancelled, over its time limit, out of memory, its node lost) fails its config, with the state
  ``sacct`` reports when the cluster keeps accounting, and after :data:`DEAD_AFTER_S` seconds
  without a result file in any case: waiting never hangs on a dead job.
"""

from __future__ import annotations

import getpass
import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from gdlib.checks import check_int, check_range
from gdlib.paths import atomic_write_json, describe_error, outputs_dir

ACTIVE_STATES = {"PENDING", "RUNNING", "CONFIGURING", "COMPLETING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED",
                 "RESIZING", "SUSPENDED", "STAGE_OUT", "SIGNALING", "RESV_DEL_HOLD", "STOPPED"}
DEAD_AFTER_S = 30.0  # out of the queue this long without a result file: dead (shared file systems lag)
POLL_S = 2.0
STATE_HINTS = {
    "CANCELLED": "cancelled (scancel, or an administrator)",
    "TIMEOUT": "hit its time limit of {time_min} min: raise SLURM_TIME_MIN (time_min)",
    "OUT_OF_MEMORY": "ran out of memory: raise mem_gb",
    "NODE_FAIL": "its node failed",
    "PREEMPTED": "preempted by another job",
    "BOOT_FAIL": "its node failed to boot",
    "DEADLINE": "missed its deadline",
    "FAILED": "failed outside Python (see the log)",
}


class SubmissionRefused(RuntimeError):
    """sbatch refused the array; the message is sbatch's."""


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


# --- jobs of a sweep ------------------------------------------------------------------------------

def marker_path(run_folder: Path) -> Path:
    """The marker of a config's Slurm job, beside its run folder."""
    return run_folder.with_name(run_folder.name + ".slurm")


def queue_states() -> dict[str, str] | None:
    """{job id: state} of this user's queued and running jobs (array tasks one by one), or None when
    squeue does not answer (no Slurm here)."""
    try:
        out = subprocess.run(["squeue", "-h", "-r", "-u", getpass.getuser(), "-o", "%i %T"], capture_output=True,
                             text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    return dict(line.split(None, 1) for line in out.stdout.splitlines() if line.strip())


def held_jobs(run_folders: Mapping[str, Path]) -> dict[str, Any]:
    """{key: submitit job} for the configs whose marked job is still queued or running; stale markers
    (jobs that are over) are removed."""
    import submitit

    held: dict[str, Any] = {}
    states = None
    for key, folder in run_folders.items():
        marker = marker_path(folder)
        if not marker.exists():
            continue
        if states is None:
            states = queue_states()
            if states is None:
                return {}  # no Slurm to ask: nothing can be known to be held
        try:
            info = json.loads(marker.read_text())
            job_id, logs = str(info["job_id"]), str(info["logs"])
        except (OSError, ValueError, KeyError):
            marker.unlink(missing_ok=True)
            continue
        if _active(states.get(job_id)):
            held[key] = submitit.SlurmJob(folder=logs, job_id=job_id)
        else:
            marker.unlink(missing_ok=True)
    return held


def submit(pending: Sequence[tuple[str, Any, Path]], name: str, outputs: str, options: SlurmOptions,
           function: Callable) -> dict[str, Any]:
    """Submit one array running ``function(cfg, name, outputs)`` per (key, cfg, run folder); mark each
    config with its job and return {key: job}. Raises :class:`SubmissionRefused` with sbatch's message."""
    import submitit

    logs = Path(options.folder) if options.folder else outputs_dir() / "slurm" / name
    executor = submitit.AutoExecutor(folder=str(logs / "%j"), cluster=options.cluster)
    threads = max(cfg.threads for _, cfg, _ in pending)
    executor.update_parameters(**options.executor_parameters(name, threads))
    try:
        jobs = executor.map_array(function, [cfg for _, cfg, _ in pending], [name] * len(pending),
                                  [outputs] * len(pending))
    except Exception as err:  # submitit's FailedJobError carries sbatch's stderr
        raise SubmissionRefused(_sbatch_message(err)) from err
    now = datetime.now(UTC).isoformat(timespec="seconds")
    for (key, _, folder), job in zip(pending, jobs, strict=True):
        if executor.cluster == "slurm":
            atomic_write_json(marker_path(folder), {"job_id": job.job_id, "logs": str(logs / "%j"),
                                                    "submitted": now, "key": key})
    return {key: job for (key, _, _), job in zip(pending, jobs, strict=True)}


def _sbatch_message(err: Exception) -> str:
    lines = [line.strip() for line in str(err).splitlines() if "sbatch:" in line or "error" in line.lower()]
    return "sbatch refused the array: " + (" ".join(lines) if lines else describe_error(err))


def job_failure(job: Any, options: SlurmOptions) -> tuple[str, str]:
    """(one line, full report) of a job that has no result, or whose function raised."""
    log = f" (log: {job.paths.stderr})"
    if job.paths.result_pickle.exists():
        try:
            job.result()
        except Exception as err:
            report = str(err)
            if "timed-out and not checkpointable" in report:  # submitit's own stop, 90 s before the limit
                line = f"Slurm job {job.job_id} " + STATE_HINTS["TIMEOUT"].format(time_min=options.time_min)
            else:
                from gdlib.sweeps import error_line

                # submitit's message: a header, the job's traceback between two dashed rules, log paths
                parts = report.split("-" * 22)
                line = f"Slurm job {job.job_id}: {error_line(parts[1] if len(parts) > 2 else report)}"
            return line + log, report
        return f"Slurm job {job.job_id} returned no model" + log, ""
    try:
        state = job.state
    except Exception:  # sacct unavailable
        state = "UNKNOWN"
    word = state.split()[0].upper() if state else "UNKNOWN"
    if word in ("FAILED", "CANCELLED") and _ending_signal(job.job_id) == signal.SIGUSR2:
        # submitit's time-limit warning (USR2, 90 s before the limit) came before Python could catch it:
        # a limit shorter than that warning, or a job slow to start
        word = "TIMEOUT"
    hint = STATE_HINTS.get(word, "").format(time_min=options.time_min)
    if word == "TIMEOUT":
        return f"Slurm job {job.job_id} {hint}" + log, f"Slurm job {job.job_id} {hint} (state {state})"
    if word == "UNKNOWN":
        hint = "this cluster keeps no accounting (sacct failed), so why is unknown"
    line = f"Slurm job {job.job_id} ended without a result (state {state}): {hint or 'see the log'}"
    return line + log, line


def _ending_signal(job_id: str) -> int | None:
    """The signal that ended the job's steps, from sacct's exit codes ("code:signal"), if any."""
    try:
        out = subprocess.run(["sacct", "-n", "-P", "-j", job_id, "-o", "ExitCode,DerivedExitCode"],
                             capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    codes = [c for c in out.replace("|", "\n").split() if re.fullmatch(r"\d+:\d+", c)]
    signals = {int(c.split(":")[1]) for c in codes} - {0}
    return signal.SIGUSR2 if signal.SIGUSR2 in signals else min(signals, default=None)


def _active(state: str | None) -> bool:
    return bool(state) and state.split()[0].upper() in ACTIVE_STATES


def _gone(job: Any, states: dict[str, str] | None) -> bool:
    """Whether the job has left the queue (without squeue, e.g. submitit's local executor: submitit says)."""
    if states is None:
        try:
            return job.done()
        except Exception:
            return False
    return not _active(states.get(job.job_id))


def collect(jobs: Mapping[str, Any], options: SlurmOptions,
            done: Callable[[str, tuple | None, str | None, str | None], None]) -> None:
    """Wait until every job has a result or is known dead; call ``done(key, outcome, report, line)``
    (``outcome`` the job's return value, else the failure's full ``report`` and one ``line``)."""
    waiting = dict(jobs)
    gone_since: dict[str, float] = {}
    last_queue, states = -math.inf, None
    try:
        while waiting:
            now = time.monotonic()
            if now - last_queue >= 2 * POLL_S:
                states, last_queue = queue_states(), now
            for key, job in list(waiting.items()):
                if job.paths.result_pickle.exists():
                    del waiting[key]
                    try:
                        done(key, job.result(), None, None)
                    except Exception:
                        line, report = job_failure(job, options)
                        done(key, None, report, line)
                elif _gone(job, states):
                    # sacct names a death at once; otherwise allow a shared file system to show the result
                    first = gone_since.setdefault(key, now)
                    if _died_by_accounting(job) or now - first > DEAD_AFTER_S:
                        del waiting[key]
                        line, report = job_failure(job, options)
                        done(key, None, report, line)
                else:
                    gone_since.pop(key, None)
            if waiting:
                time.sleep(POLL_S)
    except KeyboardInterrupt:
        ids = sorted({job.job_id for job in waiting.values()})
        if ids and options.cluster in (None, "slurm"):
            arrays = sorted({i.split("_")[0] for i in ids})
            print(f"interrupted: {len(ids)} Slurm job(s) still queued or running ({', '.join(ids)}) go on training "
                  f"into the cache; run the sweep again to collect them (it waits for them instead of submitting "
                  f"again), or cancel them: scancel {' '.join(arrays)}", file=sys.stderr, flush=True)
        raise


def _died_by_accounting(job: Any) -> bool:
    """Whether sacct says the job ended in a way that leaves no result (False when it cannot tell)."""
    try:
        state = job.watcher.get_state(job.job_id, mode="force")
    except Exception:
        return False
    return bool(state) and state.split()[0].upper() in STATE_HINTS


__all__ = ["SlurmOptions", "SubmissionRefused", "submit", "held_jobs", "collect", "queue_states", "marker_path",
           "job_failure"]
