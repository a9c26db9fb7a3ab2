"""Learning curves and the still-learning gate (issue 20, items 2, 3 and 8): a claim is decided only once its number
has stopped moving along its model's own training run; the checkpoints of that run are saved by step."""

from __future__ import annotations

import math
from dataclasses import asdict

import pytest
import torch

from gdlib.claims import FAILS, HOLDS, UNDECIDED, ClaimCheck, ClaimLog, Evidence, Gate, Outcome, Part, verdict
from gdlib.config import EVALUATION_ONLY, LOGGING_ONLY, TrainConfig
from gdlib.curves import (
    STILL_LEARNING_TOLERANCE,
    Curve,
    curve_steps,
    load_curves,
    points,
    run_steps,
    save_curves,
    still_learning,
    with_curve,
)
from gdlib.datasets import DatasetConfig
from gdlib.keys import config_key
from gdlib.report import assemble_report
from gdlib.runs import checkpoint_path, evaluate, step_point
from gdlib.training import get_or_train

LEARNT = Gate("m", "ID joint", 0.9, 0.6)  # the in-distribution gate passes in every case below


def judged(curve: Curve, passes: bool = True) -> tuple[str, str]:
    ev = Evidence(Outcome((Part("OOD >= 60%", passes, ("m",)),), "m"), {"copier": Outcome((Part("p", False),), "c")},
                  gates=(LEARNT, still_learning(curve)))
    return verdict(ev, "quick")


def test_a_rising_curve_gives_not_decided_still_learning_at_its_last_steps():
    rising = Curve("m", "OOD joint", (1400, 2800, 5600, 11200), (0.05, 0.2, 0.45, 0.7))
    decision, reason = judged(rising)
    assert decision == UNDECIDED and reason.startswith("not decided: still learning at 11,200 steps")
    assert "+25.0 points" in reason and "from 5,600 to 11,200 steps" in reason
    assert judged(rising, passes=False)[0] == UNDECIDED  # a model still learning cannot fail the claim either


def test_a_flat_curve_lets_the_claim_be_decided_either_way():
    flat = Curve("m", "OOD joint", (1400, 2800, 5600, 11200), (0.05, 0.6, 0.70, 0.72))
    assert judged(flat) == (HOLDS, "the model passes and every control fails")
    assert judged(flat, passes=False)[0] == FAILS
    falling = Curve("m", "OOD joint", (1400, 2800, 5600, 11200), (0.5, 0.5, 0.5, 0.4))
    assert judged(falling)[0] == UNDECIDED  # a number that moved down by 10 points has not settled either


def test_the_gate_compares_the_end_with_the_last_point_at_half_its_steps_or_fewer():
    tol = STILL_LEARNING_TOLERANCE
    gate = still_learning(Curve("m", "acc", (100, 300, 400), (0.0, 0.5, 0.52)))
    assert gate.value == pytest.approx(0.52) and not gate.passed  # 300 -> 400 is not a doubling: 100 -> 400 is
    assert still_learning(Curve("m", "acc", (2, 4), (0.5, 0.5 + tol * 0.9))).passed
    assert not still_learning(Curve("m", "acc", (2, 4), (0.5, 0.5 + tol))).passed  # "less than" the tolerance
    short = still_learning(Curve("m", "acc", (3, 4), (0.5, 0.5)))
    assert not short.passed and math.isnan(short.value)  # no point at half the steps: it cannot show a plateau


def test_curve_checkpoints_span_eight_times_in_steps_with_the_end():
    assert curve_steps(11200) == (1400, 2800, 5600)
    assert [s for s, _ in points(with_curve(TrainConfig(steps=11200)))] == [1400, 2800, 5600, 11200]
    assert curve_steps(4) == (1, 2)  # smoke: three points, the last two a doubling apart
    with pytest.raises(ValueError, match="steps"):
        with_curve(TrainConfig(epochs=3))


def test_a_run_trained_by_epochs_takes_its_curve_steps_from_its_training_set_size():
    cfg = TrainConfig(epochs=100, batch_size=32)  # notebook 07: equal batches fix the epochs, not the steps
    assert run_steps(cfg, 64) == 200 and with_curve(cfg, n_images=64).checkpoint_steps == (25, 50, 100)
    assert points(with_curve(cfg, n_images=64), 64)[-1] == (200, "final")
    assert run_steps(TrainConfig(steps=300, epochs=100), 64) == 300  # a run trained by steps keeps its steps
    with pytest.raises(ValueError, match="n_images"):
        points(with_curve(cfg, n_images=64))


def test_a_config_without_checkpoint_steps_keeps_the_key_it_had_before_the_field_existed():
    cfg = TrainConfig(steps=100)
    old = {k: v for k, v in cfg.to_dict().items() if k not in LOGGING_ONLY + EVALUATION_ONLY + ("checkpoint_steps",)}
    assert cfg.key() == config_key(old)
    assert with_curve(cfg).key() != cfg.key()  # a run with curve checkpoints is another run folder
    with pytest.raises(ValueError, match="checkpoint_steps"):
        TrainConfig(steps=100, checkpoint_steps=(101,))


def test_training_saves_the_weights_after_each_checkpoint_step_and_they_sample_like_the_final(tmp_path, monkeypatch):
    monkeypatch.setenv("GDLIB_OUTPUTS", str(tmp_path))
    cfg = with_curve(TrainConfig(data=DatasetConfig(n=8, d=1.0, periodic=True), width=8, heads=1, T=50, steps=4,
                                 batch_size=16, sampler="ddim", sample_steps=2, attention_resolutions=(2, 4, 8)))
    get_or_train(cfg, "curve", progress=False)
    saved = {s: torch.load(checkpoint_path(cfg, "curve", step_point(s)), weights_only=True) for s in (1, 2)}
    assert [v["step"] for v in saved.values()] == [1, 2]
    final = torch.load(checkpoint_path(cfg, "curve", "final"), weights_only=True)["model"]
    assert any(not torch.equal(saved[1]["model"][k], final[k]) for k in final)  # the weights did move
    ev = evaluate(cfg, "curve", step_point(2), layers=())
    assert len(ev.labels) == 64 and ev.epoch == step_point(2)


def test_curves_and_the_still_learning_gate_reach_the_report(tmp_path, monkeypatch):
    monkeypatch.setenv("GDLIB_OUTPUTS", str(tmp_path))
    log = ClaimLog("05_composition", "quick")
    rising = Curve("2D+1D", "OOD strict joint", (1400, 2800, 5600, 11200), (0.1, 0.3, 0.6, 0.8), {"copier": 0.3})
    claim = log.check("C7", "composes", "OOD >= 60%", Evidence(Outcome((Part("p", True, ("2D+1D",)),), "m"),
                                                               gates=(still_learning(rising),)))
    assert ClaimCheck.from_dict(asdict(claim)).gates == claim.gates  # steps survive JSON
    save_curves("05_composition", "quick", [rising])
    assert load_curves(tmp_path)[0][3] == [rising]
    text = assemble_report(tmp_path).read_text()
    assert "## What more compute does" in text
    assert ("| 2D+1D | OOD strict joint | 10% at 1,400 / 30% at 2,800 / 60% at 5,600 / 80% at 11,200 | +20.0 points "
            "| still learning | copier 30% |") in text  # every point of the curve, whatever the checkpoint fractions
    assert "still learning at 11,200 steps" in text  # the claim's reason
