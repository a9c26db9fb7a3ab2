"""The datasets of Sec. 2, 3.2, 3.3 and App. C.1: formulas, counts, tags, hold-outs, subsets, errors."""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import pytest

from gdlib.datasets import (
    CATEGORIES,
    DatasetConfig,
    categorise,
    centred_in_holdout,
    composition_sets,
    grid_axis,
    grid_centres,
    kept_fraction,
    make_dataset,
    nested_subsets,
    rim_kept,
    training_labels,
)
from gdlib.images import render
from gdlib.regions import (
    CROSS_READINGS,
    CentreSquare,
    Cross,
    Lesion,
    Square,
    evaluation_grid,
    integer_grid,
    nearest_indices,
    on_centres,
)


def test_bump_formula_at_known_points():
    # Sec. 2: v = 255 (1 - exp(-(x-mu_x)^2/4sx^2 - (y-mu_y)^2/4sy^2)); pixel (x, y) is image[y-1, x-1].
    im = render("bump", [16.0], [10.0], 32, 1.0, 2.0, quantize=False)[0]
    assert im[10 - 1, 16 - 1] == pytest.approx(0.0)
    assert im[10 - 1, 18 - 1] == pytest.approx(255 * (1 - np.exp(-4 / 4)))
    assert im[12 - 1, 16 - 1] == pytest.approx(255 * (1 - np.exp(-4 / 16)))
    assert im[31, 0] == pytest.approx(255.0, abs=1e-6)


def test_sos_formula_centre_one_stripe_and_far_away():
    # Sec. 2: v = 255 (1 - (e_x + e_y) / 2): black at the crossing, half grey on one stripe, white far away.
    im = render("sos", [16.0], [16.0], 32, quantize=False)[0]
    assert im[15, 15] == pytest.approx(0.0)
    assert im[15, 0] == pytest.approx(127.5, abs=1e-3)  # on the horizontal stripe only
    assert im[0, 15] == pytest.approx(127.5, abs=1e-3)  # on the vertical stripe only
    assert im[0, 0] == pytest.approx(255.0, abs=1e-3)


def test_images_are_uint8_dark_on_white():
    im = render("bump", [5.0], [7.0], 16)
    assert im.dtype == np.uint8 and im.min() == 0 and im.max() == 255


def test_default_dataset_has_102400_images_and_generates_fast_enough_to_use():
    t0 = time.perf_counter()
    ds = make_dataset(DatasetConfig())
    elapsed = time.perf_counter() - t0
    assert len(ds) == 102_400
    assert ds.images.shape == (102_400, 32, 32) and ds.images.dtype == np.uint8
    assert ds.labels.shape == (102_400, 2) and ds.labels.dtype == np.float32
    assert set(ds.tags()) == {"2D"}
    print(f"default dataset generated in {elapsed:.2f} s")


def test_grid_is_0_to_n_exclusive_of_0_and_integer_at_d_1():
    assert np.allclose(grid_axis(32, 1.0), np.arange(1, 33))
    axis = grid_axis(32, 0.1)
    assert len(axis) == 320 and axis[0] == pytest.approx(0.1) and axis[-1] == pytest.approx(32.0)


def test_periodic_wrap_centre_at_half_and_n_plus_half_give_the_same_image():
    a = render("bump", [0.5], [3.0], 16, periodic=True)
    b = render("bump", [16.5], [3.0], 16, periodic=True)
    assert np.array_equal(a, b)
    # and the bump really wraps: a centre at 0.5 darkens both the first and the last column
    assert a[0, 2, 0] < 128 and a[0, 2, 15] < 128


def test_plane_does_not_wrap():
    a = render("bump", [0.5], [3.0], 16)
    assert a[0, 2, 15] == 255


def test_extended_space_crops_give_2d_1d_0d_and_rim_where_expected():
    cfg = DatasetConfig(family="sos", n=32, d=0.5, margin=6.0)
    ds = make_dataset(cfg)
    by_label = {(float(x), float(y)): (t, im) for (x, y), t, im in zip(ds.labels, ds.tags(), ds.images)}
    tag, im = by_label[(16.0, 16.0)]
    assert tag == "2D" and im.min() == 0
    tag, im = by_label[(16.0, -6.0 + 0.5)]  # far outside in y: a single vertical stripe
    assert tag == "1D"
    # half dark and constant along y up to one grey level (127.5 sits on a rounding tie)
    assert np.all(np.abs(im[:, 15].astype(int) - 128) <= 1)
    assert np.all(im[:, 0] == 255)
    tag, im = by_label[(-5.5, -5.5)]
    assert tag == "0D" and np.all(im == 255)
    tag, im = by_label[(16.0, -1.0)]  # crossing just above the frame: partly visible
    assert tag == "rim" and im[0, 15] < 128
    assert ds.counts()["0D"] > 0 and ds.counts()["1D"] > 0 and ds.counts()["rim"] > 0


def test_labels_of_extended_space_span_the_44_wide_latent_canvas():
    ds = make_dataset(DatasetConfig(family="sos", n=32, d=1.0, margin=6.0))
    assert ds.labels.min() == pytest.approx(-5.0) and ds.labels.max() == pytest.approx(38.0)
    assert len(ds) == 44 * 44


def test_rim_can_be_removed():
    sets = composition_sets(n=32, d=0.5)
    assert training_labels(sets["1D stripes (no rim)"]).shape[0] < training_labels(sets["1D stripes + 2D rim"]).shape[0]
    no_rim = make_dataset(sets["1D stripes (no rim)"])
    assert set(no_rim.tags()) == {"1D", "0D"}


def test_bump_plus_stripes_keeps_bumps_in_frame_and_sos_stripes_outside():
    ds = make_dataset(composition_sets(n=32, d=1.0)["2D bump + 1D stripes"])
    one_d = ds.images[np.array(ds.tags()) == "1D"]
    assert one_d.min() >= 127  # a stripe is half dark, as in the SOS set (Fig. 9h)
    two_d = ds.images[np.array(ds.tags()) == "2D"]
    assert two_d.min() == 0


def test_cross_holdout_sizes_match_the_geometry():
    # N = 32, d = 0.1: 320 centres per axis, 61 of them in [13, 19]; the 2D set keeps 259^2.
    cfg = composition_sets(n=32, d=0.1)["2D SOS"]
    assert len(training_labels(cfg)) == 259 * 259
    held = make_dataset(cfg, split="heldout")
    counts = np.bincount(held.region, minlength=4)
    assert counts[3] == 61 * 61  # intersection
    assert counts[1] == counts[2] == 61 * 259  # vertical and horizontal parts


def test_cross_region_codes_name_the_parts_and_only_the_into_rim_reading_reaches_beyond_the_frame():
    labels = np.array([[16, 5], [5, 16], [16, 16], [5, 5], [16, -3]])
    codes = Cross(13, 19).codes(labels, 32)  # the paper's reading: the frame only
    names = [Cross.parts.get(int(c), "in") for c in codes]
    assert names == ["vertical", "horizontal", "intersection", "in", "in"]
    into_rim = Cross(13, 19).read_as("into rim")
    assert into_rim == Cross(13, 19, into_rim=True) and into_rim.reading == "into rim" == CROSS_READINGS[1]
    assert [Cross.parts.get(int(c), "in") for c in into_rim.codes(labels, 32)][-1] == "vertical"
    assert Cross.centred(32) == Cross(13.0, 19.0) and Cross.centred(16) == Cross(5.0, 11.0)
    assert Cross.centred(16).reading == "frame" and Cross.scaled(16, reading="into rim").into_rim
    with pytest.raises(ValueError, match="reading"):
        Cross().read_as("rim")


@pytest.mark.parametrize("n, d, counts, extension", [
    (16, 0.25, {"2D": 1600, "rim": 5184, "1D": 2910, "0D": 225}, 1600),
    (32, 0.1, {"2D": 67600, "rim": 60984, "1D": 28350, "0D": 1225}, 10248),
])
def test_the_paper_hold_out_keeps_the_rim_and_every_stripe_and_the_variant_drops_exactly_the_band_extension(
        n, d, counts, extension):
    cfg = composition_sets(n=n, d=d, cross=Cross.centred(n))["2D+1D SOS"]
    assert cfg.holdout.reading == "frame"  # the default: Sec. 3.2, App. C.1-C.2
    grid = grid_centres(cfg)
    everything = categorise(grid, cfg)
    per_category = lambda c: {name: int(np.sum(categorise(training_labels(c), c) == i))
                              for i, name in enumerate(CATEGORIES)}
    assert per_category(cfg) == counts
    for name in ("rim", "1D", "0D"):  # nothing of these is held out: no rim image, no 1D stripe
        assert counts[name] == int(np.sum(everything == CATEGORIES.index(name))), name
    variant = replace(cfg, holdout=cfg.holdout.read_as("into rim"))
    assert per_category(variant) == {**counts, "rim": counts["rim"] - extension}
    dropped = {tuple(x) for x in training_labels(cfg)} - {tuple(x) for x in training_labels(variant)}
    band = lambda v: (v >= cfg.holdout.low - 1e-6) & (v <= cfg.holdout.high + 1e-6)
    rim = grid[everything == CATEGORIES.index("rim")]
    assert dropped == {tuple(x) for x in rim[band(rim[:, 0]) | band(rim[:, 1])]}  # exactly the bands' extension
    assert len(dropped) == extension == centred_in_holdout(cfg, into_rim=True)
    assert rim_kept(cfg) == {"frame": counts["rim"], "into rim": counts["rim"] - extension}


def test_evaluation_grid_is_the_integer_centres():
    grid = evaluation_grid(16)
    assert grid.shape == (256, 2) and grid.min() == 1 and grid.max() == 16
    assert len({tuple(p) for p in grid}) == 256


def test_one_grid_helper_in_two_explicit_row_orders():
    x_fastest, y_fastest = integer_grid(32), integer_grid(32, order="y fastest")
    assert x_fastest.shape == y_fastest.shape == (1024, 2) and x_fastest.min() == 1 and x_fastest.max() == 32
    assert len({tuple(p) for p in x_fastest}) == 1024
    assert x_fastest[:2].tolist() == [[1, 1], [2, 1]] and y_fastest[:2].tolist() == [[1, 1], [1, 2]]
    assert np.array_equal(x_fastest.reshape(32, 32, 2).transpose(1, 0, 2).reshape(-1, 2), y_fastest)
    assert np.array_equal(evaluation_grid(32), x_fastest) and evaluation_grid(32).dtype == np.float32
    assert integer_grid(3, start=-1)[:, 0].tolist() == [-1, 0, 1] * 3
    assert np.array_equal(grid_centres(DatasetConfig(n=8, d=1.0)), integer_grid(8))


def test_the_nearest_centre_lookup_finds_grid_labels_exactly_and_wraps_on_a_torus():
    centres = grid_centres(DatasetConfig(n=8, d=0.5))
    index, dist = nearest_indices(centres[[5, 70]], centres, return_distance=True)
    assert index.tolist() == [5, 70] and dist.tolist() == [0.0, 0.0]
    assert on_centres(np.array([[1.0, 1.0], [1.2, 1.0]]), centres).tolist() == [True, False]
    edge = np.array([[0.4, 3.0]])  # 0.6 from (1, 3); on a torus of side 8, 0.4 from (8, 3)
    assert nearest_indices(edge, integer_grid(8))[0] == 16 and nearest_indices(edge, integer_grid(8), 8, True)[0] == 23
    ties = [nearest_indices(np.array([[1.5, 1.0]]), integer_grid(8), seed=s)[0] for s in range(20)]
    assert set(ties) == {0, 1}  # equidistant (1, 1) and (2, 1): broken at random, seeded

@pytest.mark.parametrize("width", [1.0, 3.5, 8.0])
def test_lesion_holds_out_a_vertical_band_of_the_given_width(width):
    codes = Lesion(width).codes(evaluation_grid(32), 32)
    in_band = np.sum((np.arange(1, 33) >= 16 - width / 2) & (np.arange(1, 33) <= 16 + width / 2))
    assert codes.sum() == in_band * 32


@pytest.mark.parametrize("where,corner", [("interior", 16), ("exterior", 0)])
def test_square_holds_out_w_by_w(where, corner):
    cfg = DatasetConfig(n=32, d=1.0, holdout=Square(8.0, where))
    held = make_dataset(cfg, split="heldout")
    assert len(held) == (9 if where == "interior" else 8) ** 2  # closed bounds: [12, 20] has 9 integers, (0, 8] has 8
    assert np.all(np.abs(held.labels - (corner if where == "interior" else 4)) <= (4 if where == "interior" else 4))


@pytest.mark.parametrize("n", [8, 12, 16, 32])
def test_centre_square_holds_20_percent_within_one_grid_step(n):
    d = 0.1
    cfg = DatasetConfig(n=n, d=d, holdout=CentreSquare(0.2))
    held = make_dataset(cfg, split="heldout")
    per_axis = round(n / d)
    side_points = np.sqrt(len(held))
    assert side_points == int(side_points)
    assert abs(side_points - np.sqrt(0.2) * per_axis) <= 1.0


def test_subsampling_is_seeded_and_nested_and_identical_across_sigma():
    base = DatasetConfig(n=32, d=1.0)
    subsets = nested_subsets(base, [0.1, 0.2, 0.5, 1.0])
    labels = {lam: {tuple(p) for p in training_labels(c)} for lam, c in subsets.items()}
    assert [len(labels[lam]) for lam in (0.1, 0.2, 0.5, 1.0)] == [102, 205, 512, 1024]
    assert labels[0.1] <= labels[0.2] <= labels[0.5] <= labels[1.0]
    for sigma in (0.1, 0.5, 2.0):
        other = nested_subsets(DatasetConfig(n=32, d=1.0, sigma=sigma), [0.2])[0.2]
        assert {tuple(p) for p in training_labels(other)} == labels[0.2]
    reseeded = DatasetConfig(n=32, d=1.0, keep_fraction=0.2, subsample_seed=1)
    assert {tuple(p) for p in training_labels(reseeded)} != labels[0.2]


def test_subsampling_keeps_stripes_and_thins_every_bump_image_the_rim_included():
    cfg = composition_sets(n=32, d=1.0)["2D bump + 1D stripes"]
    full = make_dataset(cfg).counts()
    thin = make_dataset(replace(cfg, keep_fraction=0.2)).counts()
    assert thin["1D"] == full["1D"] and thin["0D"] == full["0D"]
    assert thin["2D"] + thin["rim"] == round(0.2 * (full["2D"] + full["rim"]))
    assert 0 < thin["rim"] < full["rim"]
    assert kept_fraction(replace(cfg, keep_fraction=0.2)) == pytest.approx(0.2, abs=1e-3)


def test_no_training_image_is_centred_in_a_held_out_band_under_either_reading_and_stripes_cover_the_band():
    for reading in CROSS_READINGS:
        sets = composition_sets(n=16, d=0.25, cross=Cross.centred(16, reading=reading))
        for name, cfg in sets.items():
            assert centred_in_holdout(cfg) == 0, (reading, name)
        labels = training_labels(sets["2D+1D SOS"])
        in_band = (labels[:, 0] >= 5) & (labels[:, 0] <= 11)
        assert (in_band & ((labels[:, 1] < -3.7) | (labels[:, 1] > 16 + 3.7))).any()  # 1D stripes at held-out x
    paper = composition_sets(n=16, d=0.25, cross=Cross.scaled(16))["2D+1D SOS"]
    assert centred_in_holdout(paper, into_rim=True) == 832  # rim images the paper's reading keeps: [6.5, 9.5] extended


def test_heldout_split_is_the_complement():
    cfg = DatasetConfig(n=16, d=0.5, holdout=Cross(6, 9), keep_fraction=0.5)
    train, held = make_dataset(cfg), make_dataset(cfg, split="heldout")
    assert len(train) + len(held) == 32 * 32
    assert not {tuple(p) for p in train.labels} & {tuple(p) for p in held.labels}


def test_config_hash_is_stable_and_sensitive():
    a, b = DatasetConfig(sigma=1.0), DatasetConfig(sigma=(1.0, 1.0))
    assert a == b and a.key() == b.key()
    assert DatasetConfig(sigma=0.5).key() != a.key()
    assert DatasetConfig(holdout=Cross()).key() != DatasetConfig(holdout=Lesion(6)).key()


def test_cache_round_trip(tmp_path, monkeypatch):
    monkeypatch.setenv("GDLIB_DATA", str(tmp_path))
    cfg = DatasetConfig(n=8, d=0.5)
    first = make_dataset(cfg, cache=True)
    assert len(list(tmp_path.glob("*.npz"))) == 1
    second = make_dataset(cfg, cache=True)
    assert np.array_equal(first.images, second.images) and np.array_equal(first.labels, second.labels)


@pytest.mark.parametrize("kwargs,name", [
    ({"sigma": 0.0}, "sigma_x"),
    ({"sigma": (1.0, -1.0)}, "sigma_y"),
    ({"d": 0.0}, "d_x"),
    ({"d": (0.1, -0.1)}, "d_y"),
    ({"d": 0.3}, "d_x"),
    ({"n": 1}, "n"),
    ({"family": "blob"}, "family"),
    ({"keep_fraction": 0.0}, "keep_fraction"),
    ({"keep_fraction": 1.5}, "keep_fraction"),
    ({"margin": -1.0}, "margin"),
    ({"periodic": True, "margin": 6.0}, "margin"),
    ({"include": ("3D",)}, "include"),
    ({"holdout": Cross(13, 40)}, "cross.high"),
    ({"holdout": Cross(-1, 19)}, "cross.low"),
    ({"holdout": Lesion(0.0)}, "lesion.width"),
    ({"holdout": Square(40.0)}, "square.width"),
    ({"holdout": Square(4.0, "middle")}, "square.where"),
    ({"holdout": CentreSquare(1.0)}, "centre_square.fraction"),
])
def test_bad_parameters_raise_value_error_naming_the_parameter(kwargs, name):
    with pytest.raises(ValueError, match=rf"^{name} = .* is not allowed"):
        DatasetConfig(**kwargs)


def test_bad_lambda_for_nested_subsets():
    with pytest.raises(ValueError, match=r"lambda = 1.2 is not allowed: must be in \(0, 1\]"):
        nested_subsets(DatasetConfig(d=1.0), [0.5, 1.2])


def test_categories_are_the_documented_ones():
    assert CATEGORIES == ("2D", "rim", "1D", "0D")


def test_an_unreadable_dataset_cache_is_moved_aside_and_generated_again(tmp_path, monkeypatch):
    from gdlib.datasets import make_dataset
    from gdlib.paths import CorruptFileWarning

    monkeypatch.setenv("GDLIB_DATA", str(tmp_path))
    cfg = DatasetConfig(n=8, d=1.0)
    first = make_dataset(cfg, cache=True)
    (path,) = tmp_path.glob("*.npz")
    path.write_bytes(path.read_bytes()[:100])
    with pytest.warns(CorruptFileWarning, match="generated again"):
        again = make_dataset(cfg, cache=True)
    assert np.array_equal(again.images, first.images)
    assert len(list(tmp_path.glob("*.corrupt-*"))) == 1
