"""Notebook 05's helpers: the region geometry at the quick N, region-wise scores on synthetic samples with
known centres, the claim criteria, the model catalogue of the sweep, and the figures."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from gdlib.accuracy import ALL, OOD, Accuracy, classify_shape, estimate_centres, region_accuracy
from gdlib.config import TrainConfig
from gdlib.datasets import centred_in_holdout, composition_sets, training_labels
from gdlib.experiments import composition as comp
from gdlib.experiments import composition_claims as cc
from gdlib.experiments import composition_scores as scoring
from gdlib.images import render
from gdlib.plots import composition as comp_plots
from gdlib.regions import IN_DISTRIBUTION, Cross, Lesion, Square, evaluation_grid
from gdlib.runs import Evaluation
from gdlib.tables import text_table

QUICK_N = 16


def counts(holdout, n: int) -> dict[str, int]:
    labels = evaluation_grid(n)
    return {name: s.count for name, s in region_accuracy(labels, labels, n, holdout).items()}


# region geometry ---------------------------------------------------------------------------------------
def test_scaled_cross_at_quick_n_holds_out_three_columns_and_three_rows_of_the_grid():
    cross = Cross.scaled(QUICK_N)
    assert (cross.low, cross.high) == (6.5, 9.5)
    # x in {7, 8, 9} or y in {7, 8, 9}: 3 x 13 per arm, 3 x 3 in the middle, 13 x 13 outside
    assert counts(cross, QUICK_N) == {IN_DISTRIBUTION: 169, "vertical": 39, "horizontal": 39, "intersection": 9,
                                      OOD: 87, ALL: 256}


def test_scaled_cross_removes_the_band_from_the_2d_training_set_at_d_quarter():
    sets = composition_sets(n=QUICK_N, d=0.25, margin=6.0, cross=Cross.scaled(QUICK_N))
    labels = training_labels(sets["2D SOS"])
    # 64 grid values per axis in (0, 16]; [6.5, 9.5] holds 13 of them (closed bounds): 51 ^ 2 kept
    assert len(labels) == 51**2
    inside = (labels >= 6.5 - 1e-6) & (labels <= 9.5 + 1e-6)
    assert not inside.any()


@pytest.mark.parametrize("width, columns", [(0.5, 1), (1.75, 1), (2.0, 3), (4.0, 5)])
def test_lesion_at_quick_n_holds_out_the_integer_columns_of_its_closed_band(width, columns):
    assert counts(Lesion(width), QUICK_N)[OOD] == columns * QUICK_N


@pytest.mark.parametrize("where, width, side", [("interior", 3.0, 3), ("interior", 6.0, 7), ("exterior", 3.0, 3),
                                                ("exterior", 6.0, 6)])
def test_squares_at_quick_n_hold_out_the_integer_centres_of_their_closed_square(where, width, side):
    # interior [8 - W/2, 8 + W/2]: W = 6 -> 5..11 (7 values); exterior [0, W]: 1..W
    assert counts(Square(width, where), QUICK_N) == {IN_DISTRIBUTION: 256 - side**2, "square": side**2,
                                                     OOD: side**2, ALL: 256}


# region-wise accuracy on synthetic samples ----------------------------------------------------------------
def synthetic_cross_samples(n: int, family: str = "sos", shift: float = 3.0):
    """Images drawn at the true centre in distribution, x shifted in the vertical part, y in the horizontal
    part, both in the intersection: the pattern of a model that composes but does not interpolate."""
    cross = Cross.scaled(n)
    labels = evaluation_grid(n).astype(np.float64)
    codes = cross.codes(labels, n)
    drawn = labels.copy()
    drawn[np.isin(codes, (1, 3)), 0] += shift
    drawn[np.isin(codes, (2, 3)), 1] += shift
    images = render(family, drawn[:, 0], drawn[:, 1], n)
    return cross, labels, images


@pytest.mark.parametrize("family", ["sos", "bump"])
def test_region_scores_of_synthetic_images_are_exact(family):
    n = QUICK_N
    cross, labels, images = synthetic_cross_samples(n, family)
    centres = estimate_centres(images)  # darkest pixel: the crossing of an SOS, the peak of a bump
    s = region_accuracy(labels, centres, n, cross)
    core = lambda a: (a.joint, a.x, a.y, a.count)
    assert core(s[IN_DISTRIBUTION]) == (1.0, 1.0, 1.0, 169)
    assert core(s["vertical"]) == (0.0, 0.0, 1.0, 39)
    assert core(s["horizontal"]) == (0.0, 1.0, 0.0, 39)
    assert core(s["intersection"]) == (0.0, 0.0, 0.0, 9)
    assert core(s[OOD]) == (0.0, 39 / 87, 39 / 87, 87)
    assert core(s[ALL]) == (169 / 256, 208 / 256, 208 / 256, 256)
    assert list(s) == [IN_DISTRIBUTION, "vertical", "horizontal", "intersection", OOD, ALL]
    assert (s[IN_DISTRIBUTION].median_error, s[IN_DISTRIBUTION].within_one) == (0.0, 1.0)
    assert (s["vertical"].median_error, s["vertical"].within_one) == (3.0, 0.0)  # shifted by 3 pixels


def test_square_scores_count_only_the_wrong_samples_inside_the_square():
    n, square = QUICK_N, Square(6.0, "exterior")
    labels = evaluation_grid(n).astype(np.float64)
    inside = square.codes(labels, n) == 1
    drawn = labels.copy()
    wrong = inside & (labels[:, 0] <= 3)  # half of the 6 x 6 corner (x in 1..3) drawn 5 pixels off in x
    drawn[wrong, 0] += 5
    s = region_accuracy(labels, estimate_centres(render("bump", drawn[:, 0], drawn[:, 1], n)), n, square)
    assert s["square"] == Accuracy(0.5, 0.5, 1.0, 36, median_error=2.5, within_one=0.5)  # 18 exact, 18 off by 5
    assert s[IN_DISTRIBUTION] == Accuracy(1.0, 1.0, 1.0, 220, median_error=0.0, within_one=1.0)


def test_c6a_and_c6b_separate_a_composing_copier_from_an_interpolating_oracle():
    n = QUICK_N
    cross, labels, images = synthetic_cross_samples(n)
    composes = region_accuracy(labels, estimate_centres(images), n, cross)
    interpolates = region_accuracy(labels, labels, n, cross)  # every sample exact
    as_subject = lambda s: cc.Subject({"2D": s}, {"2D": s})  # noqa: E731
    assert cc.no_interpolation(as_subject(composes), "2D", 0.3).passes
    assert not cc.no_interpolation(as_subject(interpolates), "2D", 0.3).passes
    assert cc.keeps_other_coordinate(as_subject(composes), "2D", 0.6).passes
    assert cc.beats_floor(cc.Subject({"m": interpolates}, {"m": composes}), "m", "intersection", 0.6, 0.2).passes
    assert not cc.beats_floor(cc.Subject({"m": composes}, {"m": composes}), "m", "vertical", 0.0, 0.2).passes


def test_gate_uses_joint_accuracy_or_the_stripe_models_own_stripes():
    base = TrainConfig()
    scores = {IN_DISTRIBUTION: Accuracy(joint=0.1, x=0.5, y=0.4, count=10)}
    joint = comp.ModelSpec("a", "sos", "a", base, Cross())
    stripes = comp.ModelSpec("b", "sos", "b", base, Cross(), learnt_metric="stripes")
    assert not cc.gate(joint, scores).passed and cc.gate(joint, scores).value == 0.1
    assert cc.gate(stripes, scores, stripes=0.9).passed and cc.gate(stripes, scores, stripes=0.9).value == 0.9
    with pytest.raises(ValueError, match="stripe_accuracy"):
        cc.gate(stripes, scores)  # the in-frame scores say nothing about a stripe model's own training set


def test_the_stripe_gate_scores_the_visible_coordinate_of_drawn_stripes():
    from gdlib.controls import blank_images, oracle_images
    from gdlib.runs import scored

    cfg = comp.by_key(quick_models())["1D"].config
    stripes = np.array([[3.0, -5.0], [-5.0, 12.0], [20.5, 7.0]], dtype=np.float32)  # x, y visible; y visible
    drawn = scored(cfg, "oracle", oracle_images(stripes, cfg.data), stripes, {})
    assert scoring.visible_accuracy(drawn) == 1.0  # only the in-frame coordinate counts
    shifted = scored(cfg, "shifted", oracle_images(stripes + [[2.0, 0.0], [0.0, 0.0], [0.0, 0.0]], cfg.data),
                     stripes, {})
    assert scoring.visible_accuracy(shifted) == pytest.approx(2 / 3)
    assert scoring.visible_accuracy(scored(cfg, "blank", blank_images(stripes, 16), stripes, {})) == 0.0


def test_interpolation_falls_needs_a_share_of_the_gap_closed_at_the_narrowest_lesion_that_shrinks_with_width():
    def subject(model_ood, floor_ood):
        acc = lambda v: {OOD: Accuracy(v, v, 1.0, 200)}  # noqa: E731  (200 samples: intervals of about +-6 points)
        return cc.Subject({k: acc(v) for k, v in model_ood.items()}, {k: acc(v) for k, v in floor_ood.items()},
                            {k: acc(1.0) for k in model_ood})

    keys, widths = ["narrow", "wide"], [3.0, 6.0]
    assert cc.interpolation_falls(subject({"narrow": 0.8, "wide": 0.35}, {"narrow": 0.0, "wide": 0.3}), keys,
                                    widths, 0.2, 0.2).passes
    assert not cc.interpolation_falls(subject({"narrow": 0.1, "wide": 0.0}, {"narrow": 0.0, "wide": 0.3}), keys,
                                        widths, 0.2, 0.2).passes  # no gain even across the narrow lesion
    assert not cc.interpolation_falls(subject({"narrow": 1.0, "wide": 1.0}, {"narrow": 0.0, "wide": 0.3}), keys,
                                        widths, 0.2, 0.2).passes  # the oracle closes the whole gap at every width


# the catalogue of models -----------------------------------------------------------------------------------
def quick_models():
    base = TrainConfig(width=16, heads=1, attention_resolutions=(2, 4, 8), steps=10)
    return comp.experiment_models(base, n=QUICK_N, d=0.25, keep_fractions=[1.0, 0.2], lesion_widths=[1.0, 6.0],
                                  square_widths=[3.0, 6.0])


def test_the_quick_sweep_has_sixteen_distinct_models_sharing_the_training_settings():
    models = quick_models()
    assert len(models) == 16
    assert len({m.config.key() for m in models}) == 16
    assert [m.key for m in models[:4]] == ["2D", "1D", "2D+1D", "1D + rim"]
    assert {m.config.steps for m in models} == {10} and {m.config.width for m in models} == {16}
    assert [len(comp.select(models, e)) for e in comp.EXPERIMENTS] == [3, 1, 2, 2, 8]
    m = comp.by_key(models)
    assert m["2D"].data.include == ("2D",) and m["2D"].data.margin == 0
    assert m["1D"].data.include == ("1D", "0D") and m["1D"].data.margin == 6.0
    assert m["1D + rim"].data.include == ("rim", "1D", "0D")
    assert m["bump+stripes 20%"].data.family == "bump" and m["bump+stripes 20%"].data.keep_fraction == 0.2
    assert m["lesion w=6"].scoring == Lesion(6.0) and m["lesion w=6"].data.include[0] == "2D"
    assert [x.key for x in comp.select(models, "square", family="sos", where="exterior")] == [
        "sos exterior W=3", "sos exterior W=6"]
    assert all(x.scoring == Cross.centred(QUICK_N) == Cross(5.0, 11.0) for x in models[:6])


def test_every_training_set_of_the_quick_sweep_is_non_empty_and_avoids_its_held_out_region():
    for m in quick_models():
        assert len(training_labels(m.data)) > 0, m.key
        assert centred_in_holdout(m.data) == 0, m.key  # no 2D or rim image centred in a band or its extension


def test_the_into_rim_variant_retrains_only_the_models_whose_rim_the_reading_changes():
    models = quick_models()
    variants = comp.by_key(comp.under_reading(models, "into rim"))
    assert set(variants) == {f"{k} (into rim)" for k in ("2D", "1D", "2D+1D", "1D + rim", "bump+stripes 100%",
                                                         "bump+stripes 20%")}
    same = {k for k, m in comp.by_key(models).items() if f"{k} (into rim)" in variants
            and variants[f"{k} (into rim)"].config.key() == m.config.key()}
    assert same == {"2D", "1D"}  # no rim in their training sets: one model serves both readings
    assert all(v.scoring.reading == "into rim" for v in variants.values())
    assert all(variants[f"{k} (into rim)"].data.holdout.reading == "into rim" for k in ("2D+1D", "bump+stripes 20%"))


def test_bump_steps_lengthen_only_the_bump_models_so_compared_models_stay_equal():
    base = TrainConfig(width=16, heads=1, attention_resolutions=(2, 4, 8), steps=10)
    models = comp.experiment_models(base, n=QUICK_N, d=0.25, keep_fractions=[1.0, 0.2], lesion_widths=[1.0, 6.0],
                                    square_widths=[3.0, 6.0], bump_steps=25)
    steps = {m.key: m.config.steps for m in models}
    assert {k for k, v in steps.items() if v == 25} == {
        "bump+stripes 100%", "bump+stripes 20%", "bump interior W=3", "bump interior W=6", "bump exterior W=3",
        "bump exterior W=6"}
    assert all(v == 10 for k, v in steps.items() if comp.by_key(models)[k].data.family == "sos")
    with pytest.raises(ValueError, match="bump_steps"):
        comp.experiment_models(base, n=QUICK_N, d=0.25, bump_steps=0)


def test_model_steps_override_single_models_by_key_and_refuse_unknown_keys():
    base = TrainConfig(width=16, heads=1, attention_resolutions=(2, 4, 8), steps=10)
    models = comp.experiment_models(base, n=QUICK_N, d=0.25, bump_steps=25, model_steps={"1D": 40, "1D + rim": 40})
    steps = {m.key: m.config.steps for m in models}
    assert steps["1D"] == steps["1D + rim"] == 40 and steps["2D"] == steps["2D+1D"] == 10
    assert steps["bump+stripes 100%"] == 25
    assert comp.by_key(models)["1D"].data.include == ("1D", "0D")  # only the length changes
    with pytest.raises(ValueError, match="model_steps key"):
        comp.experiment_models(base, n=QUICK_N, d=0.25, model_steps={"3D": 40})
    with pytest.raises(ValueError, match="model_steps"):
        comp.experiment_models(base, n=QUICK_N, d=0.25, model_steps={"1D": 0})


def test_repeated_sweep_values_are_refused():
    with pytest.raises(ValueError, match="must not repeat"):
        comp.experiment_models(TrainConfig(), n=QUICK_N, d=0.25, lesion_widths=[1.0, 1.0])


# tables and figures ------------------------------------------------------------------------------------------
def fake_evaluations(models, n: int) -> dict[str, Evaluation]:
    cross, labels, images = synthetic_cross_samples(n)
    centres, method = estimate_centres(images, return_method=True)
    return {m.key: Evaluation("final", images, labels.astype(np.float32), centres, 0.0, 0.0, 0.0, method=method,
                              shapes=classify_shape(images), n=n) for m in models}


def test_tables_and_figures_are_built_from_scores():
    models = quick_models()
    evs = fake_evaluations(models, QUICK_N)
    scores = {m.key: scoring.score_evaluation(m, evs[m.key]) for m in models}
    rows = comp.results_table(models, scores)
    assert len(rows) == 3 * 6 + 1 * 6 + 2 * 6 + 2 * 4 + 8 * 4
    assert {"median px", "within 1 px"} <= set(rows.columns)  # the graded error beside accuracy in every row
    both = comp.results_table(models, scores, {"formula oracle": scores})
    assert len(both) == 2 * len(rows) and list(both["generator"][:2]) == ["model", "formula oracle"]
    gates = {m.key: cc.gate(m, scores[m.key], stripes=0.9 if m.learnt_metric == "stripes" else None) for m in models}
    text = text_table(cc.learnt_table(models[:2], scores, gates), comp.PERCENT_COLUMNS)
    assert "ID joint" in text and "100%" in text
    figs = [comp_plots.plot_region_bars(models[:3], scores),
            comp_plots.plot_region_samples(models[:4], evs, per_part=2)]
    fig, ax = plt.subplots()
    comp_plots.plot_versus(ax, comp.select(models, "lesion"), scores, xlabel="w")
    comp_plots.plot_accuracy_bars(ax, models[:2], scores)
    figs.append(fig)
    assert len(figs[1].axes) == 5 * 6  # truth + 4 models, 2 centres per part x 3 parts
    for f in figs:
        plt.close(f)


def test_region_centres_are_drawn_from_each_part_in_order():
    labels = evaluation_grid(QUICK_N)
    cross = Cross.scaled(QUICK_N)
    idx = comp_plots.pick_region_centres(labels, cross, QUICK_N, per_part=3, seed=1)
    assert cross.codes(labels[idx], QUICK_N).tolist() == [1, 1, 1, 2, 2, 2, 3, 3, 3]


def test_the_browser_generates_an_image_at_the_chosen_centre_of_a_trained_model():
    pytest.importorskip("ipywidgets")
    from gdlib import widgets
    from gdlib.training import get_or_train

    base = TrainConfig(width=8, heads=1, attention_resolutions=(2, 4, 8), T=100, steps=2, batch_size=16,
                       sampler="ddim", sample_steps=2, sample_batch_size=64)
    model = comp.experiment_models(base, n=8, d=1.0, keep_fractions=[1.0])[0]  # the 2D SOS model
    get_or_train(model.config, "browser-test", progress=False)
    cache: dict = {}
    image, centre = widgets.generate_at(model, 3.0, -2.0, name="browser-test", cache=cache)
    assert image.shape == (8, 8) and image.dtype == np.uint8 and centre.shape == (2,)
    assert list(cache) == ["2D"]
    fig = widgets.browser_figure(model, 3.0, -2.0, image, centre)
    assert len(fig.axes) == 3
    box = widgets.composition_browser([model], name="browser-test")
    controls = box.children[0].children
    assert [c.description for c in controls] == ["model", "mu_x", "mu_y"]
    plt.close("all")
