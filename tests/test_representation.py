"""The claim criteria of notebooks 03 and 04 (gdlib.representation) on inputs with known answers, and their 95%
intervals over resamples of the centres on synthetic clouds (no training).

Every criterion against its controls (noise, the untrained network) is tested in tests/test_controls.py.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from gdlib import representation as rep
from gdlib.claims import CANNOT_TELL, HOLDS, Evidence, Gate, verdict
from gdlib.intervals import resampled
from gdlib.regions import integer_grid
from gdlib.spectrum import resampled_spectra
from gdlib.tori import clifford_torus, torus_3d
from gdlib.torus_geometry import ideal_torus_tests, torus_tests


def test_c1_wants_a_final_pr_near_7_that_settled_after_an_inner_peak():
    epochs = [0, 1, 2, 3, 4, 5, 6]
    assert rep.pr_trajectory(epochs, [80, 5, 12, 9, 7.5, 7, 7.2]).passes
    assert not rep.pr_trajectory(epochs, [80, 5, 6, 7, 8, 9, 9.5]).passes  # still rising: no peak inside
    assert not rep.pr_trajectory(epochs, [80, 12, 11, 9, 7.5, 7, 7.2]).passes  # the peak is the first checkpoint
    assert not rep.pr_trajectory(epochs, [80, 5, 20, 14, 7, 14, 7]).passes  # not settled
    assert not rep.pr_trajectory(epochs, [80, 5, 30, 25, 22, 21, 20]).passes  # settles far above 7
    assert not rep.pr_trajectory([0, 1, 2], [5, 12, 7]).passes  # too few checkpoints to tell


def test_the_epoch_0_pr_does_not_count_as_the_start_of_the_rise():
    # the untrained network's PR (80) is far above the trained one's; the rise is measured from epoch 1
    outcome = rep.pr_trajectory([0, 1, 2, 3, 4, 5], [80, 5, 12, 7.4, 7.1, 7.0])
    assert outcome.passes and "first (5.0)" in " ".join(p.name for p in outcome.parts)


def test_top_k_share_and_eigengap_of_a_known_spectrum():
    ev = np.array([4.0, 3.0, 2.0, 1.0, 0.5, 0.5])
    assert rep.top_k_share(ev) == pytest.approx(10 / 11)
    assert rep.eigengap(ev) == pytest.approx(2.0)


def test_a_circle_is_one_dominant_ring_and_a_blob_is_none():
    theta = np.linspace(0, 2 * np.pi, 64, endpoint=False)
    length, second = rep.ring_strength(np.c_[np.cos(theta), np.sin(theta)])
    assert length > 0.8 and second < 0.1
    length, _ = rep.ring_strength(np.random.default_rng(0).standard_normal((256, 2)))
    assert length < rep.RING_LENGTH


def random_rotation(dim: int, seed: int) -> np.ndarray:
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((dim, dim)))
    return q


@pytest.mark.parametrize("seed", range(5))
def test_c2_finds_both_rings_of_an_ideal_clifford_torus_with_equal_radii_rotated_at_random_in_r4(seed):
    # the four eigenvalues are equal, so PCA may return any basis of the torus's R^4: the rings must be found in
    # the planes fitted to cos and sin of each label, not in pairs of PCs
    labels = integer_grid(16, order="y fastest")
    rotated = clifford_torus(labels, 16) @ random_rotation(4, seed).T
    r = rep.from_h("rotated Clifford", labels, rotated)
    outcome = rep.top_four(r, resamples=0)  # the planes' fit: intervals are tested on noisy tori below
    assert outcome.passes, outcome.measured
    x, y = rep.label_planes(r)
    assert x.r2 == pytest.approx(0.5) and y.r2 == pytest.approx(0.5)  # each circle carries half the variance
    assert x.ring and y.ring and x.length > 0.7 and y.length > 0.7


def test_c2_finds_no_ring_in_noise_or_in_a_clifford_torus_whose_labels_were_shuffled():
    labels = integer_grid(16, order="y fastest")
    torus = clifford_torus(labels, 16)
    shuffled = rep.from_h("shuffled", labels, torus[np.random.default_rng(0).permutation(len(labels))])
    noise = rep.from_h("noise", labels, np.random.default_rng(0).standard_normal((len(labels), 64)))
    for r in (shuffled, noise):
        planes = rep.label_planes(r)
        assert not any(p.ring for p in planes), [p.describe() for p in planes]
        assert all(p.r2 < 0.05 for p in planes)
        assert not rep.top_four(r, resamples=0).passes
    # the shuffled torus keeps its four dominant PCs: only the ring part, which reads the labels, fails it
    parts = rep.top_four(shuffled, resamples=0).parts
    assert [p.passes for p in parts] == [True, True, False]


def test_c2_finds_the_x_ring_of_a_3d_torus_but_not_a_y_ring():
    labels = integer_grid(16, order="y fastest")
    x, y = rep.label_planes(rep.from_h("3D torus", labels, torus_3d(labels, 16)))
    assert x.ring and not y.ring


@pytest.fixture(scope="module")
def ideal():
    labels = integer_grid(12, order="y fastest")
    return labels, ideal_torus_tests(labels, n=12, n_pairs=60, seed=0)


def test_a_clifford_representation_passes_c4_and_a_3d_torus_fails_it(ideal):
    labels, tests = ideal
    clifford = torus_tests(clifford_torus(labels, 12), labels, n_pairs=60, seed=0)
    assert rep.clifford_like(clifford, tests).passes
    three_d = torus_tests(torus_3d(labels, 12), labels, n_pairs=60, seed=0)
    assert not rep.clifford_like(three_d, tests).passes


def test_the_parallel_families_of_a_clifford_torus_fail_c5(ideal):
    _, tests = ideal
    outcome = rep.hyperfactorized(tests["clifford"], tests)
    assert not outcome.passes
    # its x-on-x and y-on-y planes coincide: distance 0 to the Clifford family, so closer to it than to 3D x-on-y
    assert not any(p.passes for p in outcome.parts if "W to 3D" in p.name)


# 95% intervals over resamples of the centres (issue 22) ---------------------------------------------------------
GATE_PASSED = (Gate("torus model", "final strict joint accuracy", 0.9, 0.6),)


def gaussian_cloud(k: int, n: int, seed: int, d: int = 80) -> np.ndarray:
    """n points of an isotropic k-dimensional Gaussian rotated into R^d: PR about k when n >> k, less for few."""
    rng = np.random.default_rng(seed)
    basis, _ = np.linalg.qr(rng.standard_normal((d, d)))
    return rng.standard_normal((n, k)) @ basis[:k]


def rise_fall_settle(n: int) -> rep.PRTrajectory:
    """Epoch 0 wide, then dimensions 6, 14, 11, 10, 10 at n centres: rises, falls, settles within 20% near 10."""
    return rep.trajectory(range(6), [gaussian_cloud(k, n, seed) for seed, k in enumerate([60, 6, 14, 11, 10, 10])])


def test_the_pr_interval_contains_the_estimate_and_narrows_with_more_centres():
    few, many = rise_fall_settle(40), rise_fall_settle(400)
    widths = []
    for t in (few, many):
        assert t.draws.shape == (rep.PR_RESAMPLES, 6)
        final = resampled(t.prs[-1], t.draws[:, -1])
        assert final.low <= t.prs[-1] <= final.high
        assert f"final PR {final.text(lambda v: f'{v:.1f}')} in [5, 10]" == rep.pr_trajectory(*t).parts[0].name
        widths.append(final.high - final.low)
    assert widths[1] < widths[0] / 2, widths  # ten times the centres: about a third of the width
    np.testing.assert_array_equal(rise_fall_settle(40).draws, few.draws)  # seeded: one run, one interval


def test_c1_cannot_tell_when_an_interval_straddles_its_threshold_and_holds_once_the_intervals_clear():
    # 40 centres: the point values pass every part, but the settling (max/min 1.05, up to 1.22 > 1.2) and the fall
    # (final / peak 0.79, up to 0.94 > 0.9) straddle their thresholds; 400 centres of the same clouds clear them
    few = rep.pr_trajectory(*rise_fall_settle(40))
    assert rep.pr_trajectory(*rise_fall_settle(40)[:2]).passes  # on the values alone it would hold
    assert not few.passes and not few.clearly_fails and any(p.straddles for p in few.parts), few.parts
    assert verdict(Evidence(few, gates=GATE_PASSED), "quick")[0] == CANNOT_TELL
    many = rep.pr_trajectory(*rise_fall_settle(400))
    assert many.passes and verdict(Evidence(many, gates=GATE_PASSED), "quick")[0] == HOLDS


def noisy_clifford(n: int, noise: float = 0.05, seed: int = 0) -> rep.CheckpointRepresentation:
    """A Clifford torus on the n x n grid with isotropic noise in R^12 (PR near 4, both rings clear)."""
    labels = integer_grid(n, order="y fastest")
    rng = np.random.default_rng(seed)
    h = np.c_[clifford_torus(labels, n), np.zeros((n * n, 8))] + noise * rng.standard_normal((n * n, 12))
    return rep.from_h("noisy Clifford", labels, h)


def test_c2s_intervals_contain_the_estimates_and_clear_on_a_noisy_clifford_torus():
    outcome = rep.top_four(noisy_clifford(8), resamples=20)
    assert outcome.passes and not any(p.straddles for p in outcome.parts), outcome.measured
    assert "95% intervals over 20 resamples" in outcome.measured
    value, low, high = _percentages(outcome.parts[0].name)  # the top-4 share
    assert low <= value <= high
    for plane in re.findall(r"longest H1 ([\d.]+) \[([-\d.]+), ([-\d.]+)\]", outcome.measured):
        value, low, high = map(float, plane)
        assert low <= value <= high and low >= rep.RING_LENGTH


def test_c2s_resampled_spectra_narrow_with_more_centres():
    widths = []
    for n in (8, 16):
        r = noisy_clifford(n)
        shares = [ev[:4].sum() / total for _, ev, total, _ in resampled_spectra(r.h, 100, seed=0)]
        interval = resampled(rep.top_k_share(r.pca.eigenvalues), shares)
        assert interval.low <= interval.value <= interval.high
        widths.append(interval.high - interval.low)
    assert widths[1] < widths[0], widths


def _percentages(text: str) -> tuple[float, float, float]:
    """``70% [65%, 74%] >= 50%`` -> (70, 65, 74)."""
    return tuple(float(v) for v in re.findall(r"([\d.]+)%", text)[:3])


def test_c2_fails_noise_clearly_with_intervals():
    noise = rep.from_h("noise", integer_grid(8, order="y fastest"), np.random.default_rng(0).standard_normal((64, 40)))
    outcome = rep.top_four(noise, resamples=20)
    assert outcome.clearly_fails and outcome.parts[0].clearly_fails, outcome.measured


def test_c3_says_that_its_betti_numbers_have_no_interval():
    labels = integer_grid(8, order="y fastest")
    blob = rep.from_h("blob", labels, np.random.default_rng(0).standard_normal((64, 6)))
    outcome = rep.torus_topology(blob, n_points=40)
    assert outcome.clearly_fails and "no interval" in outcome.measured, outcome.measured
