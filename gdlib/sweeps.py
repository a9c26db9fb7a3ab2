"""Sweeps: train many models, resumably, on one machine or on a Slurm cluster (through submitit).

A sweep is a list of :class:`~gdlib.training.TrainConfig` under one model name. :func:`run_sweep`
skips every config whose model is already in the cache (``outputs/models/<name>/<hash>/final.pt``),
trains the others with the chosen executor, and returns a :class:`SweepResult` that lists, per config,
whether it was cached, trained or failed (and why). Models are read back from the cache with
:func:`gdlib.training.get_or_train`; nothing is pickled back from the workers but a path.

Executors, all behind the same call:
- ``local``: in this process, one model after another, with an overall progress bar;
- ``processes``: up to ``workers`` processes on this machine at a time, one spawned process per config,
  so a worker that dies (killed, out of memory) fails its own config only and the others go on; with
  ``gpus`` (default: every GPU this process sees, :func:`gdlib.device.visible_gpus`) each worker slot is pinned
  to one GPU through CUDA_VISIBLE_DEVICES (slot i gets gpus[i % len(gpus)]);
- ``slurm``: submitit's AutoExecutor submits one job array (``map_array``) of the configs that no
  queued or running job holds already; what the jobs ask for is :class:`~gdlib.slurm_options.SlurmOptions`
  (see :mod:`gdlib.slurm_jobs` for refusals, duplicates and dead jobs). Jobs write to the shared cache.
  ``cluster="local"`` runs the same path as local subprocesses.

Every job takes its run's lock (``<hash>.lock`` next to the cache entry, :mod:`gdlib.locks`: it names
its holder and is taken over when the holder is gone), so two processes asked for one config train it
once: the second waits, then finds it in the cache. A killed sweep resumes where it stopped: finished models
are skipped and a half-trained one resumes from its ``last.pt``.
"""

from __future__ import annotations

import os
import signal
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing import get_context
from multiprocessing.connection import wait as wait_for_any
from pathlib import Path

from gdlib import progress as gdlib_progress
from gdlib.checks import check_choice, check_int
from gdlib.config import TrainConfig
from gdlib.device import visible_gpus
from gdlib.errors import error_line
from gdlib.model import padded_size
from gdlib.paths import outputs_dir
from gdlib.runs import evaluate, is_trained, run_dir, step_point
from gdlib.slurm_options import SlurmOptions
from gdlib.training import ensure_trained

EXECUTORS = ("local", "processes", "slurm")


@dataclass
class SweepResult:
    """Per config key: "cached", "trained", "failed" (or "submitted", "queued"); run folders of the
    finished; each failure's full report (``failures``) and its one-line error (``errors``); the Slurm
    job of each config sent to Slurm (``jobs``)."""

    name: str
    status: dict[str, str] = field(default_factory=dict)
    paths: dict[str, Path] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    configs: dict[str, TrainConfig] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    jobs: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failures

    def count(self, status: str) -> int:
        return sum(s == status for s in self.status.values())

    def fail(self, key: str, report: str, error: str | None = None) -> None:
        """Record that ``key`` failed: its full ``report`` and a one-line ``error`` (else the report's)."""
        self.status[key], self.failures[key] = "failed", report
        self.errors[key] = error or error_line(report)

    def summary(self) -> str:
        counts = ", ".join(f"{self.count(s)} {s}" for s in ("cached", "trained", "submitted", "queued", "failed")
                           if self.count(s) or s in ("cached", "trained", "failed"))
        lines = [f"sweep {self.name!r}: {len(self.status)} configs, {counts}"]
        for key in self.failures:
            lines.append(f"  FAILED {key}: {self.errors.get(key) or error_line(self.failures[key])}")
        return "\n".join(lines)


def train_job(cfg: TrainConfig, name: str, outputs: str | None = None) -> tuple[str, str]:
    """Train (or find) one model; returns (run folder, "trained" or "cached"). Runs in any worker:
    the run's lock (:func:`gdlib.training.ensure_trained`) makes a second process asked for the same
    config wait, then find it in the cache. The checkpoints of its learning curve (``cfg.checkpoint_steps``,
    :mod:`gdlib.curves`) are sampled here too, like the final weights (:func:`gdlib.runs.evaluate`, cached): in the
    workers, side by side, instead of one after another in the notebook that reads them."""
    if outputs is not None:
        os.environ["GDLIB_OUTPUTS"] = outputs
    trained = ensure_trained(cfg, name, progress=False)
    for step in cfg.checkpoint_steps:
        evaluate(cfg, name, step_point(step), layers=())
    return str(run_dir(cfg, name)), "trained" if trained else "cached"


def expected_work(cfg: TrainConfig) -> int:
    """A rough relative cost of training ``cfg``, for ordering a sweep's jobs (longest first): optimiser
    steps (epochs when no step count is set) x batch x pixels of the padded canvas x width^2."""
    n_pad = padded_size(cfg.data.n)
    return (cfg.steps or cfg.epochs) * cfg.batch_size * n_pad * n_pad * cfg.width * cfg.width


def _process_worker(cfg: TrainConfig, name: str, outputs: str, gpu: int | None, conn) -> None:
    """One config in its own spawned process; sends ("ok", (folder, status)) or ("error", traceback)."""
    if gpu is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(gpu)
    try:
        conn.send(("ok", train_job(cfg, name, outputs)))
    except KeyboardInterrupt:  # the sweep was interrupted: say so, without a traceback on the terminal
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        conn.send(("error", "KeyboardInterrupt: the sweep was interrupted"))
    except BaseException:
        conn.send(("error", traceback.format_exc()))
        raise
    finally:
        conn.close()


def _death(pid: int, exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        sig = signal.Signals(-exitcode).name
        hint = " (the out-of-memory killer sends it: see dmesg)" if sig == "SIGKILL" else ""
        return f"the worker process {pid} was killed by {sig}{hint} before it finished"
    return f"the worker process {pid} exited with status {exitcode} without a result"


def _run_processes(pending: list[tuple[str, TrainConfig]], name: str, outputs: str, workers: int,
                   gpus: Sequence[int] | None, done: Callable[[str, tuple | None, str | None], None]) -> None:
    """Train ``pending`` in up to ``workers`` spawned processes at a time, one per config, longest first
    (list scheduling: the workers run out of work together). A process that dies fails its config only."""
    ctx = get_context("spawn")
    queue = sorted(pending, key=lambda item: expected_work(item[1]), reverse=True)
    running: dict[int, tuple[str, object, object]] = {}  # slot -> (key, process, connection)
    try:
        while queue or running:
            for slot in range(workers):
                if slot not in running and queue:
                    key, cfg = queue.pop(0)
                    gpu = gpus[slot % len(gpus)] if gpus else None
                    receive, send = ctx.Pipe(duplex=False)
                    proc = ctx.Process(target=_process_worker, args=(cfg, name, outputs, gpu, send),
                                       name=f"sweep {name} {key}")
                    proc.start()
                    send.close()
                    running[slot] = (key, proc, receive)
            wait_for_any([proc.sentinel for _, proc, _ in running.values()])
            for slot, (key, proc, receive) in list(running.items()):
                if proc.exitcode is None and proc.is_alive():
                    continue
                proc.join()
                try:
                    message = receive.recv() if receive.poll() else None
                except EOFError:  # it died before sending anything
                    message = None
                receive.close()
                del running[slot]
                if message is not None and message[0] == "ok":
                    done(key, message[1], None)
                else:
                    done(key, None, message[1] if message else _death(proc.pid, proc.exitcode))
    finally:  # interrupted: stop the workers still running, each given time to release its lock
        procs = [proc for _, proc, _ in running.values()]
        deadline = time.monotonic() + 5  # Ctrl-C or Jupyter's interrupt reaches the workers too: let them end
        while any(p.is_alive() for p in procs) and time.monotonic() < deadline:
            wait_for_any([p.sentinel for p in procs if p.is_alive()], timeout=max(0.0, deadline - time.monotonic()))
        for proc in procs:
            if proc.is_alive():
                os.kill(proc.pid, signal.SIGINT)
        for proc in procs:
            proc.join(10)
            if proc.is_alive():
                proc.kill()
                proc.join()


def _run_slurm(pending: list[tuple[str, TrainConfig]], name: str, outputs: str, options: SlurmOptions, wait: bool,
               result: SweepResult, done: Callable) -> None:
    """Submit what no queued or running job holds, then (``wait``) collect every job's outcome."""
    from gdlib import slurm_jobs

    folders = {key: run_dir(cfg, name) for key, cfg in pending}
    jobs = slurm_jobs.held_jobs(folders)
    if jobs:
        print(f"{len(jobs)} config(s) of sweep {name!r} are held by queued or running Slurm jobs "
              f"({', '.join(sorted(job.job_id for job in jobs.values()))}): waiting for those, not submitting them "
              "again", file=sys.stderr, flush=True)
    new = [(key, cfg, folders[key]) for key, cfg in pending if key not in jobs]
    if new:
        threads = max(cfg.threads for _, cfg, _ in new)
        print(f"slurm: submitting {len(new)} job(s): {options.describe(threads)}", file=sys.stderr, flush=True)
        try:
            submitted = slurm_jobs.submit(new, name, outputs, options, train_job)
        except slurm_jobs.SubmissionRefused as err:
            for key, _, _ in new:
                done(key, None, str(err), str(err))
            submitted = {}
        jobs.update(submitted)
    result.jobs.update({key: job.job_id for key, job in jobs.items()})
    if not wait:
        for key in jobs:
            result.status[key] = "submitted" if any(key == k for k, _, _ in new) else "queued"
            result.paths[key] = folders[key]
        return

    def collected(key: str, outcome: tuple | None, report: str | None, line: str | None) -> None:
        slurm_jobs.marker_path(folders[key]).unlink(missing_ok=True)  # the job is over: nothing holds the config
        done(key, outcome, report, line)

    slurm_jobs.collect(jobs, options, collected)


def run_sweep(
    configs: Sequence[TrainConfig],
    name: str,
    executor: str = "local",
    workers: int = 2,
    gpus: Sequence[int] | None = None,
    slurm: SlurmOptions | None = None,
    wait: bool = True,
    progress: bool = True,
) -> SweepResult:
    """Train every config of the sweep not yet in the cache and report what happened.

    With ``executor="slurm"`` and ``wait=False`` the call returns once the array is submitted (the
    configs it submitted have status "submitted", those already held by a queued or running job
    "queued"); run the same cell again later: it waits for those jobs, it does not submit them again.
    """
    check_choice("executor", executor, EXECUTORS)
    check_int("workers", workers, 1)
    if executor == "processes" and gpus is None:
        gpus = visible_gpus()  # on a GPU machine each worker takes one GPU in turn (gpus=[] keeps them off)
    result = SweepResult(name)
    pending: list[tuple[str, TrainConfig]] = []
    for cfg in configs:
        key = cfg.key()
        if key in result.configs:
            continue  # the same config twice in one sweep is trained once
        result.configs[key] = cfg
        if is_trained(cfg, name):
            result.status[key], result.paths[key] = "cached", run_dir(cfg, name)
        else:
            pending.append((key, cfg))
    outputs = str(outputs_dir())

    def finished(key: str, outcome: tuple[str, str] | None, error: str | None, line: str | None = None) -> None:
        if error is None:
            result.paths[key], result.status[key] = Path(outcome[0]), outcome[1]
        else:
            result.fail(key, error, line)
        bar.update()

    bar = gdlib_progress.bar(len(pending), f"sweep {name} ({executor})", visible=bool(progress and pending))
    if executor == "local":
        for key, cfg in pending:
            try:
                finished(key, train_job(cfg, name), None)
            except Exception:  # a failing config must not stop the sweep
                finished(key, None, traceback.format_exc())
    elif executor == "processes" and pending:
        _run_processes(pending, name, outputs, workers, gpus, finished)
    elif executor == "slurm" and pending:
        _run_slurm(pending, name, outputs, slurm or SlurmOptions(), wait, result, finished)
    bar.close()
    return result
