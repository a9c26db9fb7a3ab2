"""Training runs at tiny scale: config validation and cache key, checkpoints, exact resume, NaN stop."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from gdlib import device, diffusion, runs, training, training_state
from gdlib.config import TrainConfig, equal_batches_epochs, with_equal_batches
from gdlib.datasets import DatasetConfig
from gdlib.paths import CorruptFileError, CorruptFileWarning
from gdlib.runs import (
    eval_path,
    evaluate,
    final_state,
    layer_activations,
    load_checkpoint,
    load_metrics,
    run_dir,
    saved_epochs,
)
from gdlib.training import NonFiniteLoss, ensure_trained, get_or_train

device.setup(threads=1)

TINY_DATA = DatasetConfig(family="bump", n=8, sigma=1.0, d=1.0, periodic=True)  # 64 images


def tiny(**kw) -> TrainConfig:
    base = dict(data=TINY_DATA, width=8, heads=1, T=100, epochs=3, batch_size=16, lr=1e-3, warmup_steps=3,
                ema_decay=0.9, checkpoint_epochs=(0, 1, 3), eval_epochs=(2,), sampler="ddim", sample_steps=3,
                log_every=2)
    base.update(kw)
    return TrainConfig(**base)


@pytest.mark.parametrize("field,value", [
    ("width", 0), ("heads", 3), ("T", 1), ("epochs", 0), ("batch_size", 0), ("lr", -1.0), ("lr", 0.0),
    ("weight_decay", -0.1), ("warmup_steps", -1), ("lr_schedule", "linear"), ("ema_decay", 1.0),
    ("sampler", "euler"), ("eta", 1.5), ("sample_steps", 0), ("attention_resolutions", (3,)),
    ("checkpoint_epochs", (5,)), ("eval_epochs", (-1,)), ("eval_layers", (3,)),
    ("enc_dim", 7), ("seed", -1), ("steps", -2), ("threads", 0),
])
def test_a_bad_config_value_raises_valueerror_naming_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        tiny(**{field: value})


def test_image_sizes_the_unet_cannot_take_are_refused():
    with pytest.raises(ValueError, match="data.n"):
        tiny(data=DatasetConfig(n=4, d=1.0))
    assert tiny(data=DatasetConfig(n=12, d=1.0)).data.n == 12  # padded inside the UNet


def test_the_cache_key_is_a_deterministic_hash_of_the_fields_that_shape_the_weights():
    a, b = tiny(), tiny()
    assert a.key() == b.key() and len(a.key()) == 12
    assert tiny(checkpoint_epochs=(3, 1, 0)).key() == a.key()  # tuples are canonicalised
    keys = {tiny(**{f: v}).key() for f, v in [("lr", 2e-3), ("seed", 1), ("width", 16), ("T", 50)]}
    keys.add(tiny(data=dataclasses.replace(TINY_DATA, periodic=False)).key())
    assert a.key() not in keys and len(keys) == 5
    assert tiny(eta=0.0).key() == tiny(sampler="ddpm").key() == a.key()  # evaluation settings, not training
    assert run_dir(a, "x").name == a.key()


def test_a_config_round_trips_through_its_json_form():
    from gdlib.regions import Cross

    cfg = tiny(data=DatasetConfig(family="sos", n=16, d=1.0, holdout=Cross(6.0, 9.0)), eval_epochs=(1, 3))
    again = TrainConfig.from_dict(cfg.to_dict())
    assert again == cfg and again.key() == cfg.key()


def test_equal_batches_gives_smaller_datasets_proportionally_more_epochs():
    assert equal_batches_epochs(10_240, 102_400, 20, 64) == 200
    assert equal_batches_epochs(102_400, 102_400, 20, 64) == 20
    cfg = with_equal_batches(tiny(epochs=2, checkpoint_epochs=(0, 1, 2), eval_epochs=(2,)), 16, 64)
    assert cfg.epochs == 8 and cfg.checkpoint_epochs == (0, 4, 8) and cfg.eval_epochs == (8,)


def test_lr_warms_up_linearly_then_decays_by_cosine_to_zero():
    f = training_state.lr_factor(tiny(warmup_steps=4), total=20)
    assert [round(f(s), 3) for s in range(4)] == [0.25, 0.5, 0.75, 1.0]
    assert f(12) == pytest.approx(0.5) and f(20) == pytest.approx(0.0)
    assert training_state.lr_factor(tiny(lr_schedule="constant", warmup_steps=0), 20)(15) == 1.0


def _fixed_loss(model, cfg: TrainConfig) -> float:
    from gdlib.datasets import make_dataset

    ds = make_dataset(cfg.data)
    x0 = torch.from_numpy(ds.images).float().unsqueeze(1) / 127.5 - 1
    labels = torch.from_numpy(ds.labels)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        return float(np.mean([float(diffusion.loss(model, cfg.schedule(), x0, labels, g)) for _ in range(4)]))


def test_a_few_training_steps_lower_the_loss_and_leave_the_promised_files():
    cfg = tiny(ema_decay=0.0, epochs=8, checkpoint_epochs=(0, 4, 8), eval_epochs=(0, 8))
    model = get_or_train(cfg, "tiny", progress=False)
    folder = run_dir(cfg, "tiny")
    names = {p.name for p in folder.iterdir()}
    assert {"config.json", "metrics.csv", "final.pt", "ckpt_epoch0000.pt", "ckpt_epoch0004.pt",
            "ckpt_epoch0008.pt", "eval_epoch0000_ddim3-eta1.npz", "eval_final_ddim3-eta1.npz"} <= names
    assert "last.pt" not in names  # removed once final.pt exists
    assert saved_epochs(cfg, "tiny") == [0, 4, 8]
    untrained = load_checkpoint(cfg, "tiny", 0)
    assert _fixed_loss(model, cfg) < 0.8 * _fixed_loss(untrained, cfg)
    metrics = load_metrics(cfg, "tiny")
    assert metrics["step"][-1] == 32 and np.isfinite(metrics["accuracy"]).sum() == 2
    assert 0 <= metrics["accuracy"][-1] <= 1
    labels, acts = layer_activations(cfg, "tiny", 4)
    assert labels.shape == (64, 2) and acts.shape == (64, 8 * 4 * 4)
    assert evaluate(cfg, "tiny", "final").images.shape == (64, 8, 8)
    assert cfg in runs.finished_runs("tiny")


def test_a_finished_run_is_loaded_from_the_cache_without_training():
    cfg = tiny(epochs=1, checkpoint_epochs=(), eval_epochs=())
    first = get_or_train(cfg, "cached", progress=False)

    def crash(step, loss):
        raise AssertionError("trained again")

    again = get_or_train(cfg, "cached", progress=False, on_step=crash)
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), again.state_dict().values(),
                                                   strict=True))


class Killed(RuntimeError):
    pass


def train_until_killed_at_step_11(cfg: TrainConfig, name: str) -> None:
    """Train ``cfg`` with a resume state every 3 steps and stop it by an exception at step 11, as a kill would."""

    def kill_at_step_11(step, loss):
        if step == 11:
            raise Killed

    with pytest.raises(Killed):
        get_or_train(cfg, name, progress=False, save_every=3, on_step=kill_at_step_11)


def test_a_run_killed_mid_training_resumes_to_exactly_the_uninterrupted_weights():
    cfg = tiny(epochs=4)  # 16 steps, EMA, warm-up + cosine, evaluation at epoch 2 in between
    get_or_train(cfg, "straight", progress=False)
    train_until_killed_at_step_11(cfg, "killed")
    assert (run_dir(cfg, "killed") / "last.pt").exists()
    assert not (run_dir(cfg, "killed") / "final.pt").exists()
    resumed = torch.load(run_dir(cfg, "killed") / "last.pt", weights_only=False)["step"]
    assert resumed == 9
    get_or_train(cfg, "killed", progress=False)
    a, b = final_state(cfg, "straight"), final_state(cfg, "killed")
    assert all(torch.equal(a[k], b[k]) for k in a)
    ma, mb = load_metrics(cfg, "straight"), load_metrics(cfg, "killed")
    assert np.array_equal(ma["loss"], mb["loss"], equal_nan=True)


def test_a_nan_loss_stops_the_run_with_an_error_naming_the_step(monkeypatch):
    real_loss, calls = diffusion.loss, []

    def poisoned(*args, **kwargs):
        calls.append(1)
        out = real_loss(*args, **kwargs)
        return out * float("nan") if len(calls) == 5 else out

    monkeypatch.setattr(training.diffusion, "loss", poisoned)
    cfg = tiny(epochs=2, checkpoint_epochs=(), eval_epochs=())
    with pytest.raises(NonFiniteLoss, match="step 5"):
        get_or_train(cfg, "nan", progress=False)
    assert not (run_dir(cfg, "nan") / "final.pt").exists()


def test_a_cached_evaluation_is_rescored_with_the_current_centre_estimator():
    # eval_*.npz keeps the samples; centres and accuracy are recomputed on load (App. A.3), so a cache
    # written under an older estimator cannot carry its numbers into a notebook.
    cfg = tiny(epochs=1, checkpoint_epochs=(), eval_epochs=())
    get_or_train(cfg, "rescored", progress=False)
    path = eval_path(cfg, "rescored", "final")
    with np.load(path) as z:
        stored = {k: z[k] for k in z.files}
    truth = evaluate(cfg, "rescored", "final", layers=())
    stored["centres"] = stored["centres"] + 5.0  # stale centres and accuracy
    stored["accuracy"] = np.array([0.123, 0.123, 0.123])
    np.savez(path, **stored)
    again = evaluate(cfg, "rescored", "final", layers=())
    assert np.array_equal(again.centres, truth.centres) and again.accuracy == truth.accuracy


def test_a_run_trained_with_other_logging_settings_is_found_in_the_cache():
    # log_every, sample_batch_size and eval_epochs change what is logged, not the weights
    cfg = tiny(epochs=1, checkpoint_epochs=(), eval_epochs=(1,), log_every=2, sample_batch_size=64)
    get_or_train(cfg, "logging", progress=False)
    other = dataclasses.replace(cfg, eval_epochs=(), log_every=1, sample_batch_size=5)

    def crash(step, loss):
        raise AssertionError("trained again")

    get_or_train(other, "logging", progress=False, on_step=crash)
    assert run_dir(other, "logging") == run_dir(cfg, "logging")


def test_training_keeps_the_activations_of_eval_layers_only_and_a_reader_of_another_layer_gets_it_sampled():
    # issue 21: notebooks 05 and 06 read no activations, so their evaluations keep none (67 MB per file at full)
    cfg = tiny(epochs=1, checkpoint_epochs=(), eval_epochs=(), eval_layers=())
    get_or_train(cfg, "layers", progress=False)
    path = runs.eval_path(cfg, "layers", "final")
    with np.load(path) as z:
        assert not [k for k in z.files if k.startswith("act_")]
    assert cfg.key() == tiny(epochs=1, checkpoint_epochs=(), eval_epochs=()).key()  # the weights do not change
    kept = runs.evaluate(cfg, "layers", "final", layers=("layer4",))  # sampled again, from the same noise
    assert kept.activations["layer4"].shape[0] == len(kept.labels)
    assert np.array_equal(kept.images, runs.evaluate(cfg, "layers", "final", layers=()).images)


TRAIN_AND_HASH = """
import hashlib, sys, torch
from gdlib import device
from gdlib.datasets import DatasetConfig
from gdlib.config import TrainConfig
from gdlib.runs import final_state
from gdlib.training import get_or_train
device.setup()  # the process-wide count, from GDLIB_THREADS
cfg = TrainConfig(data=DatasetConfig(n=8, d=1.0, periodic=True), width=8, heads=1, T=100, epochs=3, batch_size=16,
                  lr=1e-3, sampler="ddim", sample_steps=2, threads=int(sys.argv[1]))
get_or_train(cfg, "determinism", progress=False)
state = final_state(cfg, "determinism")
print(torch.get_num_threads(), hashlib.sha256(b"".join(state[k].numpy().tobytes() for k in sorted(state))).hexdigest())
"""


def train_in_a_process(tmp_path, tag: str, process_threads: int, config_threads: int) -> str:
    env = {**os.environ, "GDLIB_OUTPUTS": str(tmp_path / tag), "GDLIB_THREADS": str(process_threads)}
    done = subprocess.run([sys.executable, "-c", TRAIN_AND_HASH, str(config_threads)], env=env,
                          capture_output=True, text=True, check=True)
    threads, digest = done.stdout.split()
    assert int(threads) == process_threads  # the process-wide setting is restored after training
    return digest


@pytest.mark.slow
def test_a_config_trains_to_the_same_bits_whatever_thread_count_the_process_has(tmp_path):
    # The thread count changes the float rounding (1 vs 2 threads: other weights). Training takes it from
    # the config, so two processes set up with 1 and with 2 threads train one config to identical weights.
    one = train_in_a_process(tmp_path, "a", process_threads=1, config_threads=1)
    assert train_in_a_process(tmp_path, "b", process_threads=2, config_threads=1) == one
    two = TrainConfig(data=DatasetConfig(n=8, d=1.0, periodic=True), width=8, heads=1, T=100, epochs=3, batch_size=16,
                      lr=1e-3, sampler="ddim", sample_steps=2, threads=2)  # as TRAIN_AND_HASH, with 2 threads
    get_or_train(two, "determinism", progress=False)
    state = final_state(two, "determinism")
    assert hashlib.sha256(b"".join(state[k].numpy().tobytes() for k in sorted(state))).hexdigest() != one


def test_the_thread_count_is_part_of_the_training_key():
    assert tiny(threads=2).key() != tiny().key() and tiny().threads == 1


def truncate(path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * keep)])


def test_a_truncated_final_checkpoint_raises_an_error_naming_the_file_and_what_to_do():
    cfg = tiny(epochs=1, checkpoint_epochs=(0,), eval_epochs=())
    get_or_train(cfg, "truncated", progress=False)
    final = run_dir(cfg, "truncated") / "final.pt"
    truncate(final)
    with pytest.raises(CorruptFileError, match="final.pt cannot be read") as info:
        get_or_train(cfg, "truncated", progress=False)
    assert str(final) in str(info.value) and f"mv '{final}' '{final}.corrupt'" in str(info.value)
    truncate(run_dir(cfg, "truncated") / "ckpt_epoch0000.pt")
    with pytest.raises(CorruptFileError, match="ckpt_epoch0000.pt cannot be read.*only training writes it"):
        load_checkpoint(cfg, "truncated", 0)
    final.rename(final.with_name("final.pt.corrupt"))  # the remedy the message gives: the run trains again
    get_or_train(cfg, "truncated", progress=False)


def test_an_unreadable_resume_state_is_moved_aside_and_training_resumes_from_the_one_before():
    cfg = tiny(epochs=4)
    get_or_train(cfg, "straight", progress=False)
    train_until_killed_at_step_11(cfg, "damaged")
    folder = run_dir(cfg, "damaged")
    assert torch.load(folder / "last.prev.pt", weights_only=False)["step"] == 6
    truncate(folder / "last.pt")
    with pytest.warns(CorruptFileWarning, match=r"last.pt could not be read .*resuming from last.prev.pt"):
        get_or_train(cfg, "damaged", progress=False)
    a, b = final_state(cfg, "straight"), final_state(cfg, "damaged")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not (folder / "last.pt").exists() and not (folder / "last.prev.pt").exists()
    assert len(list(folder.glob("last.pt.corrupt-*"))) == 1  # kept for inspection


def test_when_both_resume_states_are_unreadable_training_starts_again_with_the_same_result():
    cfg = tiny(epochs=2, checkpoint_epochs=(), eval_epochs=())
    get_or_train(cfg, "straight2", progress=False)
    folder = run_dir(cfg, "broken")
    folder.mkdir(parents=True)
    (folder / "last.pt").write_bytes(b"not a checkpoint")
    (folder / "last.prev.pt").write_bytes(b"")
    with pytest.warns(CorruptFileWarning) as warned:
        get_or_train(cfg, "broken", progress=False)
    assert [str(w.message).split("; ")[-1] for w in warned] == [
        "resuming from last.prev.pt, the state saved before it",
        "training starts again from step 0 (the same config trains to the same weights)"]
    a, b = final_state(cfg, "straight2"), final_state(cfg, "broken")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_changing_the_sampler_re_samples_a_cached_model_and_never_retrains_it():
    # issue 20 item 7: sampler, sampling steps and eta are evaluation settings, out of the training key
    cfg = tiny(epochs=1, checkpoint_epochs=(), eval_epochs=())
    get_or_train(cfg, "resampled", progress=False)
    final = run_dir(cfg, "resampled") / "final.pt"
    before = (final.stat().st_mtime_ns, final.read_bytes())
    first = evaluate(cfg, "resampled", "final", layers=())
    for change in ({"sampler": "ddpm"}, {"sample_steps": 5}, {"eta": 0.0}):
        other = dataclasses.replace(cfg, **change)
        assert other.key() == cfg.key() and run_dir(other, "resampled") == run_dir(cfg, "resampled")
        assert ensure_trained(other, "resampled", progress=False) is False  # found trained: no training
        assert eval_path(other, "resampled", "final") != eval_path(cfg, "resampled", "final")
        again = evaluate(other, "resampled", "final", layers=())
        assert eval_path(other, "resampled", "final").exists()
        assert not np.array_equal(again.images, first.images)  # new samples, from the same weights
    assert (final.stat().st_mtime_ns, final.read_bytes()) == before  # the checkpoint is untouched
    assert not (run_dir(cfg, "resampled") / "last.pt").exists()
    # the training settings still key the model, and the evaluation settings still key the samples
    assert dataclasses.replace(cfg, lr=2e-3).key() != cfg.key()
    ddpm = dataclasses.replace(cfg, sample_steps=5, sampler="ddpm")
    assert eval_path(ddpm, "x", "final").name == "eval_final_ddpm.npz"


def test_an_unreadable_evaluation_is_moved_aside_and_sampled_again():
    cfg = tiny(epochs=1, checkpoint_epochs=(), eval_epochs=())
    get_or_train(cfg, "evalbroken", progress=False)
    truth = evaluate(cfg, "evalbroken", "final", layers=())
    path = eval_path(cfg, "evalbroken", "final")
    truncate(path, 0.3)
    with pytest.warns(CorruptFileWarning, match="eval_final_ddim3-eta1.npz could not be read.*sampled again"):
        again = evaluate(cfg, "evalbroken", "final", layers=())
    assert np.array_equal(again.images, truth.images) and again.accuracy == truth.accuracy
    assert evaluate(cfg, "evalbroken", "final", layers=()).accuracy == truth.accuracy  # cached again
