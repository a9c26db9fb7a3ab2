"""Sweeps: each executor trains what is missing, skips what is cached, survives a failing config."""

from __future__ import annotations

import os
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from multiprocessing import get_context

import pytest

from gdlib.config import TrainConfig
from gdlib.datasets import DatasetConfig
from gdlib.locks import read_holder
from gdlib.runs import eval_path, is_trained, lock_path, step_point
from gdlib.sweeps import SlurmOptions, expected_work, run_sweep, train_job


def tiny(seed: int, keep_fraction: float = 1.0) -> TrainConfig:
    """A model that trains in about a second on the CPU: N = 8, width 8, a few steps, 2 DDIM steps."""
    data = DatasetConfig(n=8, d=1.0, periodic=True, keep_fraction=keep_fraction)
    return TrainConfig(data=data, width=8, heads=1, attention_resolutions=(), enc_dim=16, T=50, epochs=2,
                       batch_size=16, lr=1e-3, seed=seed, sampler="ddim", sample_steps=2, sample_batch_size=64)


@pytest.fixture
def three():
    return [tiny(0), tiny(1), tiny(2)]


@pytest.mark.slow
@pytest.mark.parametrize("executor", ["local", "processes"])
def test_a_sweep_trains_every_config_once_and_a_second_call_trains_none(executor, three, tmp_path, monkeypatch):
    monkeypatch.setenv("GDLIB_OUTPUTS", str(tmp_path))
    first = run_sweep(three, "tiny", executor=executor, workers=2, progress=False)
    assert first.ok, first.summary()
    assert first.count("trained") == 3 and all(is_trained(c, "tiny") for c in three)
    second = run_sweep(three, "tiny", executor=executor, workers=2, progress=False)
    assert second.count("cached") == 3 and second.count("trained") == 0


@pytest.mark.slow
def test_submitit_local_cluster_runs_the_slurm_path_end_to_end(three, tmp_path, monkeypatch):
    monkeypatch.setenv("GDLIB_OUTPUTS", str(tmp_path))
    opts = SlurmOptions(cluster="local", time_min=10, gpus_per_node=0, cpus_per_task=1)
    result = run_sweep(three[:2], "tiny", executor="slurm", slurm=opts, progress=False)
    assert result.ok, result.summary()
    assert result.count("trained") == 2 and all(is_trained(c, "tiny") for c in three[:2])
    assert any((tmp_path / "slurm" / "tiny").rglob("*_submitted.pkl"))  # it went through submitit


@pytest.mark.slow
def test_a_sweep_job_samples_its_learning_curve_checkpoints_where_it_trained(tmp_path, monkeypatch):
    monkeypatch.setenv("GDLIB_OUTPUTS", str(tmp_path))
    cfg = replace(tiny(0), epochs=1, steps=4, checkpoint_steps=(1, 2))  # gdlib.curves.with_curve at 4 steps
    assert run_sweep([cfg], "tiny", executor="processes", workers=1, progress=False).ok
    assert all(eval_path(cfg, "tiny", step_point(s)).exists() for s in (1, 2))  # the notebook reads them cached


@pytest.mark.slow
def test_two_concurrent_requests_for_one_config_train_it_once(tmp_path, monkeypatch):
    monkeypatch.setenv("GDLIB_OUTPUTS", str(tmp_path))
    cfg = tiny(5)
    with ProcessPoolExecutor(max_workers=2, mp_context=get_context("spawn")) as pool:
        outcomes = sorted(status for _, status in pool.map(train_job, [cfg, cfg], ["tiny", "tiny"]))
    assert outcomes == ["cached", "trained"]
    assert not lock_path(cfg, "tiny").exists()  # released afterwards


@pytest.mark.slow
def test_a_failing_config_is_reported_and_the_others_finish(tmp_path, monkeypatch):
    monkeypatch.setenv("GDLIB_OUTPUTS", str(tmp_path))
    empty = tiny(0, keep_fraction=0.001)  # keeps round(0.064) = 0 of the 64 images: nothing to train on
    good = [tiny(1), tiny(2)]
    result = run_sweep([good[0], empty, good[1]], "tiny", executor="local", progress=False)
    assert result.count("trained") == 2 and result.count("failed") == 1
    assert list(result.failures) == [empty.key()]
    assert "empty" in result.failures[empty.key()].lower()
    assert empty.key() in result.summary() and "1 failed" in result.summary()


def test_bad_executor_is_named():
    with pytest.raises(ValueError, match=r"^executor = 'mpi' is not allowed"):
        run_sweep([], "x", executor="mpi")


def test_expected_work_grows_with_steps_batch_padded_canvas_and_width():
    base = TrainConfig(data=DatasetConfig(n=8, d=1.0), width=8, heads=1, steps=100, batch_size=16)
    w = expected_work(base)
    assert expected_work(replace(base, steps=300)) == 3 * w
    assert expected_work(replace(base, batch_size=64)) == 4 * w
    assert expected_work(replace(base, width=16)) == 4 * w
    # N = 12 is padded to 16 inside the UNet, so it costs as much as N = 16
    assert expected_work(replace(base, data=DatasetConfig(n=12, d=1.0))) == expected_work(
        replace(base, data=DatasetConfig(n=16, d=1.0))) == 4 * w


@pytest.mark.slow
def test_a_killed_worker_fails_only_its_config_and_a_healthy_one_in_progress_completes(tmp_path, monkeypatch):
    # The issue: an out-of-memory kill of one worker failed every config with BrokenProcessPool.
    monkeypatch.setenv("GDLIB_OUTPUTS", str(tmp_path))
    doomed, healthy, quick = replace(tiny(1), epochs=30), replace(tiny(2), epochs=20), tiny(3)
    killed = []

    def kill_doomed_while_healthy_trains():
        # the two longest start first; the doomed worker's pid is in its run's lock file
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            victim, _ = read_holder(lock_path(doomed, "tiny"))
            other, _ = read_holder(lock_path(healthy, "tiny"))
            if victim is not None and other is not None:
                os.kill(victim.pid, signal.SIGKILL)
                killed.append(victim.pid)
            time.sleep(0.02)

    killer = threading.Thread(target=kill_doomed_while_healthy_trains)
    killer.start()
    try:
        result = run_sweep([quick, doomed, healthy], "tiny", executor="processes", workers=2, progress=False)
    finally:
        killer.join()
    assert killed, "the two longest configs never trained at the same time"
    assert result.status == {quick.key(): "trained", doomed.key(): "failed", healthy.key(): "trained"}
    assert result.errors[doomed.key()] == (f"the worker process {killed[0]} was killed by SIGKILL (the out-of-memory "
                                           "killer sends it: see dmesg) before it finished")
    assert f"FAILED {doomed.key()}: the worker process {killed[0]} was killed by SIGKILL" in result.summary()
    again = run_sweep([quick, doomed, healthy], "tiny", executor="processes", workers=2, progress=False)
    assert again.status[doomed.key()] == "trained" and again.count("cached") == 2  # the rerun trains what is missing


def test_a_process_sweep_gives_its_workers_the_visible_gpus_unless_told(tmp_path, monkeypatch):
    """On a GPU machine the `processes` executor pins worker slots to the GPUs this process sees (gpu-check and
    full run it from a notebook, which passes no gpus); gpus=[] or a CPU machine keeps them off."""
    import gdlib.sweeps as sweeps

    monkeypatch.setenv("GDLIB_OUTPUTS", str(tmp_path))
    seen = []
    monkeypatch.setattr(sweeps, "_run_processes", lambda pending, name, outputs, workers, gpus, done: seen.append(gpus))
    monkeypatch.setattr(sweeps, "visible_gpus", lambda: [2, 3])
    run_sweep([tiny(0)], "gpus", executor="processes", progress=False)
    run_sweep([tiny(0)], "gpus", executor="processes", gpus=[], progress=False)
    run_sweep([tiny(0)], "gpus", executor="processes", gpus=[1], progress=False)
    assert seen == [[2, 3], [], [1]]


def test_visible_gpus_follow_cuda_visible_devices(monkeypatch):
    import torch

    from gdlib.device import visible_gpus

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert visible_gpus() == []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "5,7")
    assert visible_gpus() == [5, 7]  # the parent's own devices, as the child's CUDA_VISIBLE_DEVICES names them
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    assert visible_gpus() == [0, 1]
