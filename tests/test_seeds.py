"""Several seeds (gdlib.seeds): the mean and the sample standard deviation across seeds, the models of each seed,
and that the sweeps of notebooks 05 and 07 decide on the mean and show the spread."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.container import BarContainer  # noqa: E402

from gdlib.accuracy import Accuracy  # noqa: E402
from gdlib.config import TrainConfig  # noqa: E402
from gdlib.controls import BLANK, COPY  # noqa: E402
from gdlib.experiments import composition as comp  # noqa: E402
from gdlib.experiments import percolation as pe  # noqa: E402
from gdlib.experiments.percolation_claims import flat_losses, learns_unseen, training_gates  # noqa: E402
from gdlib.plots.composition import plot_region_bars  # noqa: E402
from gdlib.plots.percolation import plot_accuracy  # noqa: E402
from gdlib.seeds import check_seeds, mean, mean_accuracy, mean_scores, spread, spread_note, with_seed  # noqa: E402


# the mean and the spread ----------------------------------------------------------------------------
def test_mean_accuracy_is_the_mean_with_the_sample_sd_of_joint_x_and_y():
    accs = [Accuracy(0.2, 0.5, 1.0, 10), Accuracy(0.4, 0.5, 0.0, 10), Accuracy(0.6, 0.5, 0.5, 10)]
    m = mean_accuracy(accs)
    assert (m.joint, m.x, m.y, m.count, m.seeds) == pytest.approx((0.4, 0.5, 0.5, 10, 3))
    assert m.sd == pytest.approx((0.2, 0.0, 0.5))  # ddof = 1: sqrt(((0.2)^2 + 0 + 0.2^2) / 2) = 0.2
    assert m.spread("joint") == pytest.approx(0.2) and m.spread("y") == pytest.approx(0.5)


def test_one_seed_has_no_spread_and_equals_its_own_accuracy():
    one = Accuracy(0.7, 0.8, 0.9, 5, median_error=1.0, within_one=0.6)
    m = mean_accuracy([one])
    assert m == one and m.seeds == 1 and m.sd == (0.0, 0.0, 0.0)


def test_nan_is_left_out_of_mean_and_spread_and_all_nan_stays_nan():
    values = np.array([[np.nan, 0.5, np.nan], [0.3, 0.7, np.nan]])
    assert mean(values) == pytest.approx([0.3, 0.6, np.nan], nan_ok=True)
    assert spread(values) == pytest.approx([0.0, np.sqrt(0.02), np.nan], nan_ok=True)


def test_mean_scores_average_region_by_region_and_refuse_different_models():
    one = {"2D": {"OOD": Accuracy(0.2, 0.3, 0.4, 8)}}
    two = {"2D": {"OOD": Accuracy(0.4, 0.5, 0.6, 8)}}
    assert mean_scores([one, two])["2D"]["OOD"].joint == pytest.approx(0.3)
    with pytest.raises(ValueError, match="same models"):
        mean_scores([one, {"1D": two["2D"]}])


def test_the_spread_note_names_the_seeds_and_the_largest_joint_spread_and_is_empty_for_one_seed():
    accs = [Accuracy(0.2, 0, 0, 8), Accuracy(0.6, 0, 0, 8)]
    scores = {"a": {"OOD": mean_accuracy(accs), "all": mean_accuracy(accs[:1] * 2)}}
    note = spread_note(scores, ["a"])
    assert "mean of 2 seeds" in note and f"{100 * np.std([0.2, 0.6], ddof=1):.1f} points" in note
    assert spread_note({"a": {"OOD": accs[0]}}, ["a"]) == ""


@pytest.mark.parametrize("seeds, message", [([], r"SEEDS = \[\] .*at least one"), ([0, -1], r"SEEDS = \[0, -1\].*>= 0"),
                                            ([1, 1], "distinct"), ([0.5], "integer >= 0, got 0.5"),
                                            ([True], "got True"), ("ab", "got 'a'"), (None, "list of distinct")])
def test_bad_seed_lists_are_refused_naming_the_parameter_and_the_value(seeds, message):
    with pytest.raises(ValueError, match=message):
        check_seeds(seeds)


def test_one_seed_given_alone_is_a_list_of_one_as_the_runner_allows_for_lists():
    assert check_seeds(3) == (3,) and check_seeds(np.int64(2)) == (2,) and check_seeds([2, 0]) == (2, 0)


def test_gates_read_the_lowest_seed_so_one_model_that_learnt_nothing_cannot_hide_in_the_mean():
    from gdlib.experiments.composition_claims import gate
    from gdlib.regions import IN_DISTRIBUTION

    accs = [Accuracy(0.9, 0.9, 0.9, 8), Accuracy(0.9, 0.9, 0.9, 8), Accuracy(0.1, 0.2, 0.2, 8)]
    m = mean_accuracy(accs)
    assert m.joint == pytest.approx(0.6333, abs=1e-4) and m.lowest_joint == pytest.approx(0.1)
    model = comp.experiment_models(TrainConfig(steps=10), n=8, d=0.5, cross=None)[0]
    assert model.learnt_metric == "joint"
    assert not gate(model, {IN_DISTRIBUTION: m}, 0.6).passed  # the mean (63%) would have passed
    assert gate(model, {IN_DISTRIBUTION: accs[0]}, 0.6).passed and accs[0].lowest_joint == 0.9


def test_a_seed_without_a_value_is_not_counted_and_the_note_says_so():
    accs = [Accuracy(0.9, 0, 0, 8), Accuracy(float("nan"), 0, 0, 8), Accuracy(float("nan"), 0, 0, 8)]
    m = mean_accuracy(accs)
    assert m.seeds == 1 and m.joint == pytest.approx(0.9) and m.lowest_joint == pytest.approx(0.9)
    full = mean_accuracy([Accuracy(0.9, 0, 0, 8)] * 3)
    note = spread_note({"a": {"OOD": m, "ID": full}}, ["a"])
    assert "mean of 3 seeds (only 1 with a value in some region)" in note


# the models of each seed ----------------------------------------------------------------------------
def test_with_seed_changes_only_the_training_seed_and_seed_zero_keeps_the_cache_keys():
    base = TrainConfig(steps=10)
    models = comp.experiment_models(base, n=8, d=0.5, cross=None)
    assert with_seed(models, 0) == models  # quick's single seed trains (and finds in the cache) the same models
    moved = with_seed(models, 2)
    assert [m.config.seed for m in moved] == [2] * len(models)
    assert [m.config.key() for m in moved] != [m.config.key() for m in models]
    assert [m.key for m in moved] == [m.key for m in models]


def _tiny_percolation() -> TrainConfig:
    return TrainConfig(data=pe.lattice_data(8, 1.0), width=8, heads=1, attention_resolutions=(), T=100, epochs=2,
                       batch_size=16, sampler="ddim", sample_steps=2)


def test_a_percolation_seed_sets_the_training_seed_and_the_draw_of_lattice_sites():
    seeded = pe.seeded_configs(_tiny_percolation(), [0.1, 1.0], [0.5, 1.0], [0, 1])
    assert seeded[0] == pe.sweep_configs(_tiny_percolation(), [0.1, 1.0], [0.5, 1.0], subset_seed=0)
    assert {c.seed for c in seeded[1].values()} == {1}
    assert {c.data.subsample_seed for c in seeded[1].values()} == {1}
    from gdlib.datasets import training_labels
    draw = {s: training_labels(seeded[s][(1.0, 0.5)].data) for s in (0, 1)}
    assert len(draw[0]) == len(draw[1]) and not np.array_equal(draw[0], draw[1])


# the sweeps decide on the mean and show the spread ------------------------------------------------
def _table(unseen: np.ndarray, seen: float = 0.9) -> pe.SweepTable:
    # a 32 x 32 lattice: lambda x 1024 training centres, 819 and 205 unseen ones
    return pe.SweepTable((0.1, 1.0), (0.2, 0.8), 0.005, {"accuracy_unseen": np.asarray(unseen, dtype=float),
                                                         "n_train": np.array([[205.0, 819.0]] * 2),
                                                         "accuracy_seen": np.full((2, 2), seen),
                                                         "train_loss": np.ones((2, 2)), "val_loss": np.ones((2, 2))})


def test_a_sweep_table_over_seeds_is_the_mean_and_c12_is_decided_on_it():
    good = _table([[0.1, 0.9], [0.6, 0.9]])  # sigma 0.1 learnt at lambda 0.8, sigma 1 at 0.2
    bad = _table([[0.1, 0.1], [0.6, 0.9]])  # this seed never learns sigma 0.1
    both = pe.SweepTable.mean([good, bad])
    assert both.seeds == 2 and both.accuracy_unseen[0, 1] == pytest.approx(0.5)
    assert both.spread["accuracy_unseen"][0, 1] == pytest.approx(np.std([0.9, 0.1], ddof=1))
    assert learns_unseen(good, 0.5, 0.1, 0.8).passes and not learns_unseen(bad, 0.5, 0.1, 0.8).passes
    assert learns_unseen(both, 0.5, 0.1, 0.8).passes  # the mean (0.5) reaches the level
    assert not learns_unseen(pe.SweepTable.mean([bad, bad]), 0.5, 0.1, 0.8).passes
    assert "mean of 2 seeds" in both.spread_note("accuracy_unseen", "unseen") and good.spread_note("x", "y") == ""
    assert flat_losses(both).seeds == 2  # the null world keeps the seeds
    # the training gates read the lowest seed of each cell
    assert both.lowest["accuracy_unseen"][0, 1] == pytest.approx(0.1)
    mixed = pe.SweepTable.mean([_table([[0.1, 0.9], [0.6, 0.9]], seen=0.9), _table([[0.1, 0.9], [0.6, 0.9]], seen=0.2)])
    assert mixed.accuracy_seen[0, 1] == pytest.approx(0.55)
    assert not any(g.passed for g in training_gates(mixed, 0.5))  # the mean, 55%, would have passed
    with pytest.raises(ValueError, match="share"):
        pe.SweepTable.mean([good, pe.SweepTable((0.3,), (0.2, 0.8), 0.005, good.values)])


def test_controls_over_seeds_fail_alike_the_blank_scores_nothing_and_the_copier_nothing_unseen():
    seeded = pe.seeded_configs(_tiny_percolation(), [1.0], [0.5], [0, 1])
    blank = pe.collect_mean(seeded, "unused", source=BLANK)
    copier = pe.collect_mean(seeded, "unused", source=COPY)
    assert blank.seeds == copier.seeds == 2
    assert blank.accuracy_strict[0, 0] == 0.0 and blank.spread["accuracy_strict"][0, 0] == 0.0
    assert copier.accuracy_seen[0, 0] == 1.0 and copier.accuracy_unseen[0, 0] == 0.0


def test_figures_over_seeds_carry_error_bars_of_the_spread():
    table = pe.SweepTable.mean([_table([[0.1, 0.9], [0.6, 0.9]]), _table([[0.3, 0.5], [0.6, 0.9]])])
    table.values["accuracy"] = table.values["accuracy_unseen"]
    table.spread["accuracy"] = table.spread["accuracy_unseen"]
    fig = plot_accuracy(table)
    bars = [c for c in fig.axes[0].containers if c.has_yerr]
    assert len(bars) == 4  # two sigmas, all centres and unseen
    plt.close(fig)
    models = comp.experiment_models(TrainConfig(steps=10), n=8, d=0.5)[:3]
    accs = lambda v: {r: mean_accuracy([Accuracy(v, v, v, 4), Accuracy(v / 2, v, v, 4)])  # noqa: E731
                      for r in comp.CROSS_PARTS}
    fig = plot_region_bars(models, {m.key: accs(0.8) for m in models})
    bars = [c for c in fig.axes[0].containers if isinstance(c, BarContainer)]
    assert len(bars) == 3 and all(c.errorbar is not None for c in bars)  # x, y and joint bars
    plt.close(fig)
