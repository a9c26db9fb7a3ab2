"""The pieces of Fig. 5 (notebook 06) on inputs with known answers: the centre square, the sweep,
the 60% threshold crossing and the log-log slope."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from gdlib.config import TrainConfig
from gdlib.crossing import threshold_crossing
from gdlib.datasets import make_dataset, training_labels
from gdlib.experiments.sample_efficiency import (
    centre_square_share,
    data_config,
    planned_table,
    sweep_points,
    training_counts,
)
from gdlib.experiments.sample_efficiency_claims import bumps_needed, crossings, fit_power_law, fit_slopes
from gdlib.intervals import slope_difference
from gdlib.regions import CentreSquare, evaluation_grid


@pytest.mark.parametrize("n", [8, 12, 16, 24, 32])
def test_centre_square_holds_20_percent_of_centres_within_one_grid_step(n):
    # training grid (d = 0.1) and the N*N evaluation grid (d = 1): the square's side in grid points is
    # sqrt(0.2) * N / d up to one point, so its share is 20% up to one row and one column
    for d in (0.1, 0.5, 1.0):
        share = centre_square_share(n, d)[0]
        side_points = math.sqrt(share) * n / d
        assert side_points == pytest.approx(round(side_points))
        assert abs(side_points - math.sqrt(0.2) * n / d) <= 1.0
    labels = evaluation_grid(n)
    side = math.sqrt(CentreSquare(0.2).codes(labels, n).sum())
    assert side == int(side) and abs(side - math.sqrt(0.2) * n) <= 1.0


def test_held_out_square_is_the_same_for_baseline_and_augmented_and_stripes_cover_it():
    base = data_config(8, "baseline", 100.0, d=0.5)
    aug = data_config(8, "augmented", 100.0, d=0.5)
    held_base = make_dataset(base, split="heldout")
    assert len(held_base) > 0 and np.all(held_base.category == 0)
    lab = training_labels(aug)
    low, high = 4 - 4 * math.sqrt(0.2), 4 + 4 * math.sqrt(0.2)
    in_square = lambda v: (v > low) & (v <= high)
    bumps = (lab >= 0).all(axis=1) & (lab <= 8).all(axis=1)
    assert not np.any(bumps & in_square(lab[:, 0]) & in_square(lab[:, 1]))  # no 2D bump in the square
    stripes = ~bumps
    # the stripes cover the held-out range of x and of y (the factors, seen alone)
    assert np.any(stripes & in_square(lab[:, 0])) and np.any(stripes & in_square(lab[:, 1]))


def test_augmented_set_has_stripes_but_no_rim_and_the_baseline_only_bumps():
    base, aug = (training_counts(data_config(8, k, 50.0, d=0.5)) for k in ("baseline", "augmented"))
    assert base["rim"] == base["1D"] == base["0D"] == 0 and base["2D"] > 0
    assert aug["rim"] == 0 and aug["1D"] > 0 and aug["0D"] > 0
    with_rim = training_counts(data_config(8, "augmented", 50.0, d=0.5, include_rim=True))
    assert with_rim["rim"] > 0 and with_rim["1D"] == aug["1D"]


def test_stripes_grow_linearly_in_n_with_a_constant_margin():
    stripes = {}
    for n in (8, 16, 24, 32):
        c = training_counts(data_config(n, "augmented", 10.0, d=0.5))
        stripes[n] = c["1D"] + c["0D"]
    steps = np.diff([stripes[n] for n in (8, 16, 24, 32)])
    assert np.all(steps > 0) and np.ptp(steps) <= 0.05 * steps.mean()  # equal increments: linear


def test_sweep_keeps_the_number_of_batches_constant_per_size_and_nests_the_subsets():
    template = TrainConfig(width=8, heads=1)
    points = sweep_points(template, sizes=[8, 16], percents=[50, 10], seeds=[0, 1], steps=[30, 60], d=0.5)
    assert len(points) == 2 * 2 * 2 * 2
    assert len({p.key for p in points}) == len(points)
    for p in points:
        assert p.config.steps == {8: 30, 16: 60}[p.n] and p.config.seed == p.config.data.subsample_seed == p.seed
    table = planned_table(points)
    assert np.allclose(table["epochs"] * table["images"], table["steps"] * template.batch_size)
    small = next(p for p in points if (p.dataset, p.n, p.percent, p.seed) == ("baseline", 8, 10.0, 0))
    large = next(p for p in points if (p.dataset, p.n, p.percent, p.seed) == ("baseline", 8, 50.0, 0))
    a = {tuple(v) for v in training_labels(small.config.data)}
    b = {tuple(v) for v in training_labels(large.config.data)}
    assert a < b
    with pytest.raises(ValueError, match="steps"):
        sweep_points(template, sizes=[8, 16], percents=[10], seeds=[0], steps=[30])


def test_threshold_crossing_interpolates_linearly_in_log_size():
    sizes = [100, 1000, 10000, 100000]
    acc = [0.1, 0.4, 0.8, 0.9]
    c = threshold_crossing(sizes, acc, 0.6)
    assert c.status == "crossed"
    # halfway from 0.4 to 0.8 -> halfway between log(1000) and log(10000)
    assert c.size == pytest.approx(math.sqrt(1000 * 10000))
    # a curve sampled from a known smooth crossing: acc = log10(size) / 5 crosses 0.6 at 10**3
    s = np.logspace(1, 5, 9)
    assert threshold_crossing(s, np.log10(s) / 5, 0.6).size == pytest.approx(1000.0)
    # order of the points does not matter; NaN accuracies are skipped
    assert threshold_crossing(sizes[::-1], acc[::-1], 0.6).size == pytest.approx(c.size)
    assert threshold_crossing(sizes + [500], acc + [math.nan], 0.6).size == pytest.approx(c.size)


def test_threshold_crossing_is_nan_when_never_reached_and_censored_when_reached_at_once():
    never = threshold_crossing([10, 100, 1000], [0.0, 0.3, 0.59], 0.6)
    assert never.status == "never" and math.isnan(never.size) and never.bound == 1000
    at_once = threshold_crossing([10, 100, 1000], [0.7, 0.8, 0.9], 0.6)
    assert at_once.status == "below_range" and math.isnan(at_once.size) and at_once.bound == 10
    # the first crossing counts, even if a later point dips below again
    first = threshold_crossing([10, 100, 1000, 10000], [0.2, 0.6, 0.5, 0.9], 0.6)
    assert first.size == pytest.approx(100.0)


def test_crossings_and_fits_recover_known_power_laws_per_dataset():
    rows = []
    truth = {"baseline": (2.0, 3.0), "augmented": (1.0, 50.0)}  # size needed = c * N ** p
    for dataset, (p, c) in truth.items():
        for n in (8, 16, 24, 32):
            needed = c * n**p
            for size in needed * np.array([0.1, 0.5, 2.0, 10.0]):
                # an accuracy curve linear in log(size) through 0.6 at the size needed
                acc = 0.6 + 0.2 * math.log(size / needed)
                rows.append({"dataset": dataset, "N": n, "seed": 0, "images": size, "bumps": size,
                             "acc_all_strict": acc})
    cross = crossings(pd.DataFrame(rows))
    assert (cross["status"] == "crossed").all()
    fits = fit_slopes(cross)
    assert fits["baseline"].slope == pytest.approx(2.0) and fits["augmented"].slope == pytest.approx(1.0)
    assert fits["baseline"].stderr == pytest.approx(0.0, abs=1e-9)
    outcome = bumps_needed(pd.DataFrame(rows), min_gap=0.7, tolerance=0.5)
    assert outcome.passes and "bump slope 2.00" in outcome.parts[0].name


def test_slope_fit_on_a_noisy_power_law_is_within_its_uncertainty():
    rng = np.random.default_rng(0)
    n = np.repeat([8.0, 12.0, 16.0, 24.0, 32.0], 3)
    for exponent in (1.0, 2.0):
        size = 40.0 * n**exponent * np.exp(rng.normal(0, 0.2, len(n)))
        fit = fit_power_law(n, size)
        assert fit.points == len(n) and 0 < fit.stderr < 0.5
        assert abs(fit.slope - exponent) < 3 * fit.stderr
        assert fit.predict(16.0) == pytest.approx(np.exp(fit.intercept) * 16.0**fit.slope)


def test_slope_fit_without_enough_points_is_nan_and_fails_the_claim():
    two = fit_power_law([8, 16], [10.0, 40.0])
    assert two.slope == pytest.approx(2.0) and math.isnan(two.stderr)
    one = fit_power_law([8, 16, 24], [10.0, math.nan, math.nan])
    assert math.isnan(one.slope) and one.points == 1
    assert "no fit" in one.describe()


def test_slope_difference_combines_both_errors_with_welch_satterthwaite_degrees_of_freedom():
    gap = slope_difference(2.0, 0.1, 1, 1.0, 0.1, 1)  # var 0.02; dof 0.02^2 / (2 x 0.1^4) = 2; t(0.975, 2) 4.303
    assert gap.value == pytest.approx(1.0) and gap.high - 1.0 == pytest.approx(4.3027 * math.sqrt(0.02), abs=1e-3)
    assert math.isnan(slope_difference(2.0, math.nan, 0, 1.0, 0.1, 1).low)


def power_law_sweep(sizes, noise: float, seeds: int = 1, augmented: float = 1.0, seed: int = 0,
                    baseline: float = 2.0) -> pd.DataFrame:
    """Bumps needed = 3 N ** ``baseline`` and 50 N ** ``augmented``, each (N, seed) off by a log-normal factor of spread
    ``noise``; accuracy linear in log(size), 60% at the bumps needed, so the crossings recover them exactly."""
    rng, rows = np.random.default_rng(seed), []
    for dataset, (p, c) in {"baseline": (baseline, 3.0), "augmented": (augmented, 50.0)}.items():
        for n in sizes:
            for s in range(seeds):
                needed = c * n**p * math.exp(rng.normal(0.0, noise))
                rows += [{"dataset": dataset, "N": n, "seed": s, "images": size, "bumps": size,
                          "acc_all_strict": 0.6 + 0.2 * math.log(size / needed)}
                         for size in needed * np.array([0.1, 0.5, 2.0, 10.0])]
    return pd.DataFrame(rows)


def test_c10_slope_gap_passes_only_when_its_interval_clears_the_minimum_gap():
    # three sizes, one seed: one degree of freedom a fit, the gap's interval straddles 0.7 -> cannot tell
    few = bumps_needed(power_law_sweep([8, 12, 16], noise=0.1), min_gap=0.7, tolerance=0.5).parts[1]
    assert few.straddles and not few.passes, few.name
    # the same laws and noise over five sizes and three seeds: the interval clears it
    many = bumps_needed(power_law_sweep([8, 12, 16, 24, 32], noise=0.1, seeds=3), min_gap=0.7, tolerance=0.5)
    assert many.parts[1].passes and not many.parts[1].straddles, many.parts[1].name
    # a gap of 0 (both slopes 2) fails clearly; two sizes give no error, so no decision
    same = power_law_sweep([8, 12, 16, 24, 32], noise=0.1, seeds=3, augmented=2.0)
    assert bumps_needed(same, min_gap=0.7, tolerance=0.5).parts[1].clearly_fails
    two = bumps_needed(power_law_sweep([8, 16], noise=0.0), min_gap=0.7, tolerance=0.5).parts[1]
    assert two.straddles and "no standard error" in two.name


def test_c10_baseline_slope_is_within_half_of_2_only_when_its_whole_interval_is():
    # issue 22: the baseline slope's tolerance is read on its 95% t interval, not its point value
    few = bumps_needed(power_law_sweep([8, 12, 16], noise=0.1), min_gap=0.7, tolerance=0.5).parts[0]
    assert few.straddles and not few.passes, few.name  # one degree of freedom: t = 12.7, the interval is wide
    many = bumps_needed(power_law_sweep([8, 12, 16, 24, 32], noise=0.1, seeds=3), min_gap=0.7, tolerance=0.5)
    assert many.parts[0].passes and not many.parts[0].straddles, many.parts[0].name
    steep = bumps_needed(power_law_sweep([8, 12, 16, 24, 32], noise=0.1, seeds=3, baseline=3.0), min_gap=0.7,
                         tolerance=0.5).parts[0]
    assert steep.clearly_fails, steep.name  # slope 3 with a tight interval: wholly outside [1.5, 2.5]
    two = bumps_needed(power_law_sweep([8, 16], noise=0.0), min_gap=0.7, tolerance=0.5).parts[0]
    assert two.straddles and "no standard error" in two.name


def test_data_config_rejects_bad_values():
    with pytest.raises(ValueError, match="dataset"):
        data_config(8, "stripes", 10.0)
    with pytest.raises(ValueError, match="percent"):
        data_config(8, "baseline", 0.0)
    assert data_config(8, "baseline", 10.0).keep_fraction == pytest.approx(0.1)


def test_fig5ab_draws_one_curve_per_size_with_the_spread_over_seeds():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from gdlib.plots.sample_efficiency import plot_accuracy_vs_percent

    rows = [{"dataset": "baseline", "N": n, "seed": seed, "percent": p, "acc_all_strict": min(1.0, p / 50 + 0.1 * seed)}
            for n in (8, 12) for seed in (0, 1) for p in (0.3, 3.0, 100.0)]
    fig, ax = plt.subplots()
    plot_accuracy_vs_percent(ax, pd.DataFrame(rows), "baseline")
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["N = 8", "N = 12"]
    curve = next(line for line in ax.lines if len(line.get_xdata()) == 3)
    assert curve.get_ydata().tolist() == pytest.approx([100 * (0.3 / 50 + 0.05), 100 * (3 / 50 + 0.05), 100.0])
    plt.close(fig)


def test_c10_a_slope_left_unfitted_by_crossings_below_the_sweep_cannot_tell_while_one_never_reached_fails():
    # review: the augmented models reach 60% already at the smallest percentage of every size (stripes save so many
    # bumps that the sweep starts above what they need): their slope is censored, not measured, and the gap part
    # said "does not hold"; it cannot tell. A data set that never reaches 60% (a blank generator) still fails.
    sweep = power_law_sweep([8, 12, 16, 24, 32], noise=0.1, seeds=3)
    below = sweep.assign(acc_all_strict=np.where(sweep["dataset"] == "augmented", 0.9, sweep["acc_all_strict"]))
    slope, gap = bumps_needed(below, min_gap=0.7, tolerance=0.5).parts
    assert slope.passes and gap.straddles and not gap.passes and "below the sweep" in gap.name, gap.name
    swapped = sweep.assign(acc_all_strict=np.where(sweep["dataset"] == "baseline", 0.9, sweep["acc_all_strict"]))
    assert all(p.straddles and "below the sweep" in p.name for p in bumps_needed(swapped).parts)
    never = sweep.assign(acc_all_strict=np.where(sweep["dataset"] == "augmented", 0.0, sweep["acc_all_strict"]))
    assert bumps_needed(never, min_gap=0.7, tolerance=0.5).parts[1].clearly_fails
    assert all(p.clearly_fails for p in bumps_needed(sweep.assign(acc_all_strict=0.0)).parts)
