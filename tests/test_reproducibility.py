"""A tiny model trained a few steps ends with the stored weights: a refactor that changes what training computes
(the data, the initialisation, the draws of t and noise, the loss, the optimiser, the schedule, the EMA) fails here.

The weights are compared through three checksums of the final (EMA) state, not a byte hash, so that the test also
passes where the CPU's kernels round differently. Measured on this test's model: changing the memory layout or the
thread count moves the sum of |w| by at most 2e-5 (1.3e-9 relative) and the random projection by 7e-5; one optimiser
step fewer moves them by 0.6 and 0.02, and a learning rate 0.1% higher by 3e-3 and 2.5e-4.
"""

from __future__ import annotations

import numpy as np
import pytest

from gdlib import device
from gdlib.config import TrainConfig
from gdlib.datasets import DatasetConfig
from gdlib.runs import final_state
from gdlib.training import get_or_train

device.setup(threads=1)

CONFIG = TrainConfig(data=DatasetConfig(family="bump", n=8, sigma=1.0, d=1.0, periodic=True), width=8, heads=1, T=100,
                     epochs=1, steps=6, batch_size=16, lr=1e-3, warmup_steps=2, ema_decay=0.9, sampler="ddim",
                     sample_steps=2, sample_batch_size=64, log_every=2)
#: Measured at 0d8d22a's training code (before the refactor of issue 14) and after it: identical to the last bit.
PARAMETERS = 385_233
SUM, ABS_SUM, PROJECTION = 1172.2930198353079, 12181.67948206028, 2.4115290449198987


def test_a_tiny_model_trained_six_steps_ends_with_the_stored_weights(monkeypatch):
    monkeypatch.setenv("GDLIB_BF16", "0")  # fp32 on every CPU: bf16 autocast would change every number
    monkeypatch.setenv("GDLIB_DEVICE", "cpu")
    get_or_train(CONFIG, "golden", progress=False)
    state = final_state(CONFIG, "golden")
    flat = np.concatenate([state[k].double().flatten().numpy() for k in sorted(state)])
    projection = flat @ np.random.default_rng(0).standard_normal(flat.size)
    assert flat.size == PARAMETERS
    assert flat.sum() == pytest.approx(SUM, rel=1e-6)
    assert np.abs(flat).sum() == pytest.approx(ABS_SUM, rel=1e-8)
    assert projection == pytest.approx(PROJECTION, abs=5e-4)
