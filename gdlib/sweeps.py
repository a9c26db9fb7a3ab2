"""Sweeps: train many models, resumably, on one machine or on a Slurm cluster (through submitit).

A sweep is a list of :class:`~gdlib.training.TrainConfig` under one model name. :func:`run_sweep`
skips every config whose model is already in the cache (``outputs/models/<name>/<hash>/final.pt``),
trains the others with the chosen executor, and returns a :class:`SweepResult` that lists, per config,
whether it was cached, trained or failed (and why). Models are read back from the cache with
:func:`gdlib.training.get_or_train`; nothing is pickled back from the workers but a path.

Executors, all behind the same call:
- ``local``: in this process, one model after another, with an overall progress bar;
- ``processes``: a pool of worker processes on this machine (spawned); with ``gpus`` each worker is
  pinned to one GPU through CUDA_VISIBLE_DEVICES (worker i gets gpus[i % len(gpus)]);
- ``slurm``: submitit's AutoExecutor submits one job array (``map_array``); partition, time limit, GPUs
  and array parallelism are :class:`SlurmOptions`. Jobs write to the shared cache. ``cluster="local"``
  runs the same path as local subprocesses (how the tests exercise it without a cluster).

Every job takes its run's lock (``<hash>.lock`` next to the cache entry, :mod:`gdlib.locks`: it names
its holder and is taken over when the holder is gone), so two processes asked for one config train it
once: the second waits, then finds it in the cache. A killed sweep resumes where it stopped: finished models
are skipped and a half-trained one resumes from its ``last.pt``.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

from tqdm.auto import tqdm

from gdlib.checks import check_choice, check_int
from gdlib.model import padded_size
from gdlib.paths import outputs_dir
from gdlib.training import TrainConfig, ensure_trained, is_trained, run_dir

EXECUTORS = ("local", "processes", "slurm")


@dataclass(frozen=True)
class SlurmOptions:
    """What a Slurm job array asks for (submitit's parameters)."""

    partition: str | None = None
    time_min: int = 8 * 60
    gpus_per_node: int = 1
    cpus_per_task: int = 8
    mem_gb: int = 32
    array_parallelism: int = 32
    folder: str | None = None  # default outputs/slurm/<name>
    cluster: str | None = None  # None = auto (slurm when sbatch exists), "local" or "debug" for testing

    def __post_init__(self) -> None:
        check_int("time_min", self.time_min, 1)
        check_int("gpus_per_node", self.gpus_per_node, 0)
        check_int("cpus_per_task", self.cpus_per_task, 1)
        check_int("mem_gb", self.mem_gb, 1)
        check_int("array_parallelism", self.array_parallelism, 1)


@dataclass
class SweepResult:
    """Per config key: "cached", "trained" or "failed"; run folders of the finished; the failures' reasons."""

    name: str
    status: dict[str, str] = field(default_factory=dict)
    paths: dict[str, Path] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    configs: dict[str, TrainConfig] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failures

    def count(self, status: str) -> int:
        return sum(s == status for s in self.status.values())

    def summary(self) -> str:
        lines = [f"sweep {self.name!r}: {len(self.status)} configs, {self.count('cached')} cached, "
                 f"{self.count('trained')} trained, {self.count('failed')} failed"]
        for key, why in self.failures.items():
            last = why.strip().splitlines()[-1] if why.strip() else "?"
            lines.append(f"  FAILED {key}: {last}")
        return "\n".join(lines)


def train_job(cfg: TrainConfig, name: str, outputs: str | None = None) -> tuple[str, str]:
    """Train (or find) one model; returns (run folder, "trained" or "cached"). Runs in any worker:
    the run's lock (:func:`gdlib.training.ensure_trained`) makes a second process asked for the same
    config wait, then find it in the cache."""
    if outputs is not None:
        os.environ["GDLIB_OUTPUTS"] = outputs
    trained = ensure_trained(cfg, name, progress=False)
    return str(run_dir(cfg, name)), "trained" if trained else "cached"


def expected_work(cfg: TrainConfig) -> int:
    """A rough relative cost of training ``cfg``, for ordering a sweep's jobs (longest first): optimiser
    steps (epochs when no step count is set) x batch x pixels of the padded canvas x width^2."""
    n_pad = padded_size(cfg.data.n)
    return (cfg.steps or cfg.epochs) * cfg.batch_size * n_pad * n_pad * cfg.width * cfg.width


def _pin_worker(gpu_queue) -> None:
    # Each config says its own thread count (TrainConfig.threads): a worker never picks one from the
    # machine, which would change the numbers under the same key.
    if gpu_queue is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(gpu_queue.get())


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
    pending configs have status "submitted"); run the same cell again later to collect the models.
    """
    check_choice("executor", executor, EXECUTORS)
    check_int("workers", workers, 1)
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

    def finished(key: str, outcome: tuple[str, str] | None, error: str | None) -> None:
        if error is None:
            result.paths[key], result.status[key] = Path(outcome[0]), outcome[1]
        else:
            result.status[key], result.failures[key] = "failed", error

    bar = tqdm(total=len(pending), desc=f"sweep {name} ({executor})", disable=not progress or not pending)
    if executor == "local":
        for key, cfg in pending:
            try:
                finished(key, train_job(cfg, name), None)
            except Exception:  # a failing config must not stop the sweep
                finished(key, None, traceback.format_exc())
            bar.update()
    elif executor == "processes" and pending:
        # longest first, so that the workers run out of work together (list scheduling)
        pending.sort(key=lambda item: expected_work(item[1]), reverse=True)
        ctx = get_context("spawn")
        queue = None
        if gpus:
            queue = ctx.Queue()
            for i in range(workers):
                queue.put(gpus[i % len(gpus)])
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_pin_worker,
                                 initargs=(queue,)) as pool:
            futures = {pool.submit(train_job, cfg, name, outputs): key for key, cfg in pending}
            for fut in as_completed(futures):
                exc = fut.exception()
                finished(futures[fut], None if exc else fut.result(),
                         None if exc is None else "".join(traceback.format_exception(exc)))
                bar.update()
    elif executor == "slurm" and pending:
        import submitit

        opts = slurm or SlurmOptions()
        folder = Path(opts.folder) if opts.folder else outputs_dir() / "slurm" / name
        ex = submitit.AutoExecutor(folder=str(folder / "%j"), cluster=opts.cluster)
        ex.update_parameters(timeout_min=opts.time_min, gpus_per_node=opts.gpus_per_node,
                             cpus_per_task=opts.cpus_per_task, mem_gb=opts.mem_gb, name=f"gdlib-{name}",
                             slurm_partition=opts.partition, slurm_array_parallelism=opts.array_parallelism)
        keys = [key for key, _ in pending]
        jobs = ex.map_array(train_job, [cfg for _, cfg in pending], [name] * len(pending),
                            [outputs] * len(pending))
        if not wait:
            for key in keys:
                result.status[key] = "submitted"
                result.paths[key] = run_dir(result.configs[key], name)
            bar.close()
            return result
        for key, job in zip(keys, jobs):
            try:
                # the model itself is read from the shared cache; the job returns only its path and status
                finished(key, job.result(), None)
            except Exception:
                finished(key, None, f"job {job.job_id}: " + traceback.format_exc())
            bar.update()
    bar.close()
    return result
