"""Slurm job arrays for sweeps (through submitit): submitting one, and watching its jobs.

What the jobs ask for is :class:`gdlib.slurm_options.SlurmOptions`. How a sweep uses Slurm
(:func:`gdlib.sweeps.run_sweep` with ``executor="slurm"``):

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
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gdlib.errors import error_line
from gdlib.paths import atomic_write_json, describe_error, outputs_dir
from gdlib.slurm_options import SlurmOptions

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


__all__ = ["SubmissionRefused", "submit", "held_jobs", "collect", "queue_states", "marker_path", "job_failure"]
