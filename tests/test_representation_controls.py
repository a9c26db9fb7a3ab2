"""Controls and references of C1-C5 that cost no learning (issue 22): the data's pixels at the same centres, the
network's conditioning input, and C1's trajectories that move with the model's samples.

Numbers at notebook 02's quick data (periodic bumps, N = 16, sigma = 1), measured before these tests were written:
pixels have PR 20.6 and Betti numbers (1, 2, 1), fail C2 on the top-4 share (32%) and C4 on the contrast between
families (x-on-y 76 deg against x-on-x 73); the conditioning input passes C4 (x-on-y 90 deg, x-on-x 0) and fails
C2, C3 (Betti (1, 0, 0)) and C5.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gdlib import representation as rep
from gdlib import representation_controls as rc
from gdlib.claims import CANNOT_TELL, HOLDS, Evidence, Gate, judge, verdict
from gdlib.config import TrainConfig
from gdlib.controls import ORACLE, control_evaluation
from gdlib.datasets import DatasetConfig
from gdlib.model import sinusoidal_encoding
from gdlib.regions import evaluation_grid, integer_grid
from gdlib.runs import sample_and_score
from gdlib.tori import ideal_torus
from gdlib.torus_geometry import ideal_torus_tests

PROFILE = "quick"
PH_POINTS, PH_COMPONENTS, SEED, N_PAIRS, MARGIN_DEG = 300, 6, 0, 500, 10.0  # notebooks 03 and 04
GATE_PASSED = (Gate("torus model", "final strict joint accuracy", 0.9, 0.6),)
TINY = dict(width=8, heads=1, attention_resolutions=(2, 4, 8), T=100, sampler="ddim", sample_steps=3)


@pytest.fixture(scope="module")
def cfg() -> TrainConfig:
    return TrainConfig(data=DatasetConfig(family="bump", n=16, sigma=1.0, d=0.1, periodic=True), epochs=1, **TINY)


@pytest.fixture(scope="module")
def rows(cfg):
    labels = evaluation_grid(cfg.data.n)
    return {"pixels": rep.pixel_representation(cfg, labels), "conditioning": rc.conditioning_input(cfg, labels),
            "clifford": rep.from_h("Clifford", labels, ideal_torus("clifford", labels, cfg.data.n))}


@pytest.fixture(scope="module")
def tori(rows, cfg):
    ideal = ideal_torus_tests(rows["pixels"].labels, n=cfg.data.n, n_pairs=N_PAIRS, seed=SEED)
    return rep.torus_results(rows, N_PAIRS, SEED), ideal


def test_the_conditioning_input_is_the_label_part_of_the_unets_own_embedding(cfg, rows):
    cond = rows["conditioning"]
    assert cond.h.shape == (cfg.data.n ** 2, 2 * cfg.enc_dim)
    lab = torch.as_tensor(cond.labels, dtype=torch.float32)
    expected = torch.cat([sinusoidal_encoding(lab[:, 0], cfg.enc_dim), sinusoidal_encoding(lab[:, 1], cfg.enc_dim)], 1)
    np.testing.assert_allclose(cond.h, expected.numpy(), atol=1e-6)


def test_pixels_fail_c4_on_the_contrast_between_families_and_the_conditioning_input_passes_it(tori):
    results, ideal = tori
    criterion = lambda t: rep.clifford_like(t, ideal, MARGIN_DEG)  # noqa: E731
    pixels = criterion(results["pixels"])
    assert pixels.parts[2].clearly_fails and pixels.parts[3].clearly_fails, pixels.measured  # over their intervals
    assert criterion(results["conditioning"]).passes  # factorised by construction: C4 cannot tell layer 4 from it
    # pixels as a control do not stop C4 holding for a Clifford-like model; the conditioning input is a reference
    evidence = judge(criterion, results["clifford"], {"pixels": results["pixels"]},
                     {"conditioning input": results["conditioning"]}, GATE_PASSED)
    assert verdict(evidence, PROFILE)[0] == HOLDS
    assert evidence.rows()[-1].passes is True  # the reference row says that it passes


def test_pixels_and_the_conditioning_input_fail_c2_and_c5(rows, tori):
    # clearly, over their 95% intervals too: as a control, pixels that straddled would make C2 and C5 cannot tell
    assert rep.top_four(rows["pixels"]).clearly_fails and rep.top_four(rows["conditioning"]).clearly_fails
    results, ideal = tori
    for name in ("pixels", "conditioning"):
        assert rep.hyperfactorized(results[name], ideal, MARGIN_DEG).clearly_fails, name


def test_pixels_at_n16_are_a_torus_so_c3_cannot_tell_even_for_a_model_that_is_one(rows):
    criterion = lambda r: rep.torus_topology(r, PH_POINTS, PH_COMPONENTS, SEED)  # noqa: E731
    pixels = criterion(rows["pixels"])
    assert pixels.passes and pixels.measured.startswith("Betti numbers (1, 2, 1); no interval")
    assert not criterion(rows["conditioning"]).passes  # not periodic in mu: no torus
    labels = integer_grid(32, order="y fastest")
    torus = criterion(rep.from_h("3D torus", labels, ideal_torus("3d", labels, 32)))
    assert torus.passes
    evidence = Evidence(torus, {"pixels": pixels}, gates=GATE_PASSED)
    assert verdict(evidence, PROFILE)[0] == CANNOT_TELL


def test_c1s_sample_controls_are_computed_at_every_checkpoint_and_move_with_the_samples(cfg):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        untrained = sample_and_score(cfg.make_model(), cfg, 0)
    checkpoints = [untrained, control_evaluation(ORACLE, cfg)]  # noise-like samples, then perfect bumps
    checkpoints[1].epoch = 1
    epochs, prs, draws = rc.sample_pixel_trajectory(checkpoints)
    assert epochs == [0, 1]
    assert prs[1] == pytest.approx(rep.pixel_representation(cfg, checkpoints[1].labels).participation_ratio)
    assert abs(prs[0] - prs[1]) > 1.0, prs  # the trajectory moves: not a constant line
    assert draws.shape == (rep.PR_RESAMPLES, 2) and np.all(np.isfinite(draws))  # resamples of the centres: intervals
    epochs, prs, draws = rc.untrained_on_samples(cfg, checkpoints)
    assert epochs == [0, 1] and all(np.isfinite(prs)) and abs(prs[0] - prs[1]) > 0.5, prs
    assert draws.shape == (rep.PR_RESAMPLES, 2)
