"""Every training set of the paper (Sec. 2, 3.2, 3.3, App. C.1): configs, generation, tags, caching.

A :class:`DatasetConfig` says which images to draw; :func:`make_dataset` enumerates the centres on
the grid, renders them (vectorised, :mod:`gdlib.images`), tags each sample and removes what the
hold-out and the subsampling leave out.

Conventions (where the paper is silent, our choice):
- Labels are (mu_x, mu_y) in image coordinates: the visible frame is [0, N]. Centres lie on the grid
  ``lo + k d`` for k = 1 .. (extent / d), i.e. (0, N] without a margin: N/d centres per axis
  (320 at N = 32, d = 0.1, so the default set has 102,400 images), and at d = 1 exactly the pixel
  positions 1..N, the evaluation grid.
- The extended space of App. C.1 (a 44 x 44 latent canvas around the 32 x 32 frame) is ``margin = 6``:
  labels then run over (-6, 38], the paper's 0..44 shifted by 6 so that a label means the same pixel in
  every dataset.
- Categories: a coordinate is *in frame* when 0 <= mu <= N and *visible* when its stripe darkens at
  least one pixel by one grey level after rounding to uint8. "2D": both coordinates in frame. "rim":
  both visible, at least one outside the frame (the partly visible crossing of App. C.1). "1D": exactly
  one visible. "0D": none visible (a white image).
- 2D and rim samples are drawn with the dataset's family (bump or SOS); 1D and 0D samples are the
  stripes of the SOS formula, for both families: the 2D bump + 1D stripe set of Sec. 3.2 keeps the
  same stripes as the 2D + 1D SOS set (Fig. 9h).
- ``keep_fraction`` subsamples the in-distribution images drawn with the family's formula (categories
  2D and rim: every bump image of a bump set, the partly visible ones of the rim included, so that "20% of
  the bumps" of Fig. 4g means 20% of all bump images) with a seeded permutation, keeping its first
  round(fraction * count) entries: subsets with the same seed are nested, and identical for every sigma
  (the percolation sets of Sec. 3.3 and the subsampling of Fig. 4g, Fig. 5). The stripes (1D, 0D) are kept.
- Held out: the 2D and rim samples whose centre lies in a region of the hold-out; the 1D and 0D stripes
  never are (their region code is 0), since the paper keeps them over the full range (Fig. 4b).
"""

from __future__ import annotations

import io
from dataclasses import asdict, dataclass, replace

import numpy as np

from gdlib import images as img
from gdlib.checks import check_choice, check_int, check_positive, check_range
from gdlib.keys import coerce_floats, config_key
from gdlib.paths import atomic_write_bytes, data_dir, move_aside
from gdlib.regions import CROSS_READINGS, Cross, HoldOut, grid, region_codes

CATEGORIES = ("2D", "rim", "1D", "0D")
PAPER_MARGIN = 6.0  # App. C.1: a 44 x 44 latent canvas around the 32 x 32 frame


def _pair(name: str, value: float | tuple[float, float]) -> tuple[float, float]:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = (value, value)
    if not (isinstance(value, (tuple, list)) and len(value) == 2):
        raise ValueError(f"{name} = {value!r} is not allowed: must be a positive number or an (x, y) pair")
    return (float(value[0]), float(value[1]))


@dataclass(frozen=True)
class DatasetConfig:
    """What to draw. ``sigma`` and ``d`` take one value or an (x, y) pair (sigma_x, sigma_y; d_x, d_y)."""

    family: str = "bump"
    n: int = 32
    sigma: float | tuple[float, float] = 1.0
    d: float | tuple[float, float] = 0.1
    periodic: bool = False
    margin: float = 0.0
    include: tuple[str, ...] = CATEGORIES
    holdout: HoldOut | None = None
    keep_fraction: float = 1.0
    subsample_seed: int = 0

    def __post_init__(self) -> None:
        coerce_floats(self)
        object.__setattr__(self, "sigma", _pair("sigma", self.sigma))
        object.__setattr__(self, "d", _pair("d", self.d))
        object.__setattr__(self, "include", tuple(self.include))
        check_choice("family", self.family, ("bump", "sos"))
        check_int("n", self.n, 2, 4096)
        check_positive("sigma_x", self.sigma[0])
        check_positive("sigma_y", self.sigma[1])
        check_range("d_x", self.d[0], 0, self.n, low_open=True)
        check_range("d_y", self.d[1], 0, self.n, low_open=True)
        check_range("margin", self.margin, 0, 10 * self.n)
        if self.periodic and self.margin > 0:
            raise ValueError(f"margin = {self.margin} is not allowed with periodic = True: "
                             "must be 0 (a torus has no outside)")
        if not self.include or any(c not in CATEGORIES for c in self.include):
            raise ValueError(f"include = {self.include!r} is not allowed: must be a non-empty subset of {CATEGORIES}")
        check_range("keep_fraction", self.keep_fraction, 0, 1, low_open=True)
        check_int("subsample_seed", self.subsample_seed, 0)
        for axis, step in zip("xy", self.d, strict=True):
            count = self.extent / step
            if abs(count - round(count)) > 1e-6:
                raise ValueError(f"d_{axis} = {step} is not allowed: must divide the latent extent {self.extent} "
                                 f"(N + 2 margin) into a whole number of steps")
        if self.holdout is not None:
            self.holdout.check(self.n)

    @property
    def sigma_x(self) -> float:
        return self.sigma[0]

    @property
    def sigma_y(self) -> float:
        return self.sigma[1]

    @property
    def d_x(self) -> float:
        return self.d[0]

    @property
    def d_y(self) -> float:
        return self.d[1]

    @property
    def extent(self) -> float:
        """Side of the latent canvas: N, or N + 2 margin for the extended space (44 at N = 32)."""
        return self.n + 2 * self.margin

    def to_dict(self) -> dict:
        """Plain JSON-able form, the hold-out named by its class."""
        out = asdict(self)
        out["holdout"] = None if self.holdout is None else {"kind": type(self.holdout).__name__,
                                                            **asdict(self.holdout)}
        return out

    def key(self) -> str:
        """The cache key of the dataset it describes (:func:`gdlib.keys.config_key`)."""
        return config_key(self.to_dict())


@dataclass(frozen=True, eq=False)
class Dataset:
    """Images (uint8, (M, N, N)), labels (float32 (M, 2) = (mu_x, mu_y)) and per-sample tags."""

    config: DatasetConfig
    images: np.ndarray
    labels: np.ndarray
    category: np.ndarray  # index into CATEGORIES
    region: np.ndarray  # hold-out region code, see gdlib.regions (0 = in distribution)

    def __len__(self) -> int:
        return len(self.labels)

    def counts(self) -> dict[str, int]:
        """Number of samples of each category."""
        return {name: int(np.sum(self.category == i)) for i, name in enumerate(CATEGORIES)}

    def tags(self) -> list[str]:
        """Category name of every sample."""
        return [CATEGORIES[i] for i in self.category]


def grid_axis(n: int, step: float, margin: float = 0.0) -> np.ndarray:
    """Centres along one axis: -margin + k step for k = 1 .. (N + 2 margin) / step."""
    count = int(round((n + 2 * margin) / step))
    return (-margin + step * np.arange(1, count + 1)).astype(np.float64)


def grid_centres(cfg: DatasetConfig) -> np.ndarray:
    """Every centre of the config's grid, float64 (count_x * count_y, 2), x fastest."""
    return grid(grid_axis(cfg.n, cfg.d_x, cfg.margin), grid_axis(cfg.n, cfg.d_y, cfg.margin))


def visible(mu: np.ndarray, sigma: float, n: int, periodic: bool = False) -> np.ndarray:
    """Whether a stripe centred at mu darkens some pixel by at least one grey level (uint8)."""
    strongest = img.profile(np.asarray(mu, dtype=np.float64), sigma, n, periodic).max(axis=1)
    return np.rint(255.0 * (1.0 - 0.5 * strongest)) < 255


def categorise(labels: np.ndarray, cfg: DatasetConfig) -> np.ndarray:
    """Category index (into CATEGORIES) of each centre: 2D, rim, 1D or 0D (see the module docstring)."""
    lab = np.asarray(labels, dtype=np.float64)
    in_frame = (lab >= 0) & (lab <= cfg.n)
    vis = np.stack([visible(lab[:, 0], cfg.sigma_x, cfg.n, cfg.periodic),
                    visible(lab[:, 1], cfg.sigma_y, cfg.n, cfg.periodic)], axis=1) | in_frame
    both_in = in_frame.all(axis=1)
    n_vis = vis.sum(axis=1)
    cat = np.where(both_in, 0, np.where(n_vis == 2, 1, np.where(n_vis == 1, 2, 3)))
    return cat.astype(np.int8)


def _subsample_mask(candidates: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Keep round(fraction * count) of the candidate samples: a seeded permutation's prefix (nested in fraction)."""
    idx = np.flatnonzero(candidates)
    keep = np.zeros(len(candidates), dtype=bool)
    order = np.random.default_rng(seed).permutation(len(idx))
    keep[idx[order[: int(round(fraction * len(idx)))]]] = True
    return keep


def _render(labels: np.ndarray, category: np.ndarray, cfg: DatasetConfig, chunk: int = 4096) -> np.ndarray:
    out = np.empty((len(labels), cfg.n, cfg.n), dtype=np.uint8)
    stripes = category >= CATEGORIES.index("1D")
    for family, mask in ((cfg.family, ~stripes), ("sos", stripes)):
        idx = np.flatnonzero(mask)
        for start in range(0, len(idx), chunk):
            part = idx[start:start + chunk]
            out[part] = img.render(family, labels[part, 0], labels[part, 1], cfg.n,
                                   cfg.sigma_x, cfg.sigma_y, cfg.periodic)
    return out


FORMULA_CATEGORIES = (CATEGORIES.index("2D"), CATEGORIES.index("rim"))  # drawn with the family's formula


def _split_masks(cfg: DatasetConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """All grid centres with their category and region, and the masks of included and training samples."""
    labels = grid_centres(cfg)
    category = categorise(labels, cfg)
    included = np.isin(category, [CATEGORIES.index(c) for c in cfg.include])
    formula = np.isin(category, FORMULA_CATEGORIES)
    region = np.where(formula, region_codes(labels, cfg.holdout, cfg.n), 0).astype(np.int8)
    candidates = formula & (region == 0) & included
    kept = _subsample_mask(candidates, cfg.keep_fraction, cfg.subsample_seed) | (included & ~formula)
    return labels, category, region, included, kept & (region == 0)


def make_dataset(cfg: DatasetConfig, split: str = "train", cache: bool = False) -> Dataset:
    """Generate the dataset of ``cfg``.

    ``split="train"`` gives the training set; ``split="heldout"`` the complement within the included
    categories: the held-out regions and the samples that subsampling dropped (validation data).
    With ``cache=True`` the result is stored under ``data/<key>-<split>.npz`` and read back next time.
    """
    check_choice("split", split, ("train", "heldout"))
    path = data_dir() / f"{cfg.key()}-{split}.npz"
    if cache and path.exists():
        try:
            with np.load(path) as z:
                return Dataset(cfg, z["images"], z["labels"], z["category"], z["region"])
        except Exception as err:  # a truncated or damaged npz: generating again takes seconds
            move_aside(path, err, "the dataset is generated again")
    labels, category, region, included, train = _split_masks(cfg)
    select = train if split == "train" else included & ~train
    labels, category, region = labels[select], category[select], region[select]
    ds = Dataset(cfg, _render(labels, category, cfg), labels.astype(np.float32), category, region)
    if cache:
        buf = io.BytesIO()
        np.savez(buf, images=ds.images, labels=ds.labels, category=ds.category, region=ds.region)
        atomic_write_bytes(path, buf.getvalue())
    return ds


def training_labels(cfg: DatasetConfig) -> np.ndarray:
    """The training centres of ``cfg`` without rendering any image (cheap: for sizes and latent plots)."""
    labels, _, _, _, train = _split_masks(cfg)
    return labels[train]


def kept_fraction(cfg: DatasetConfig) -> float:
    """Training images drawn with the family's formula (2D and rim) over all such in-distribution images:
    ``keep_fraction`` up to rounding (the share of bump images a subsampled bump set keeps)."""
    labels, category, region, included, train = _split_masks(cfg)
    formula = np.isin(category, FORMULA_CATEGORIES)
    candidates = formula & (region == 0) & included
    return float((train & formula).sum() / max(1, candidates.sum()))


def centred_in_holdout(cfg: DatasetConfig, into_rim: bool = False) -> int:
    """Training images drawn with the family's formula (2D or rim) whose centre lies in a held-out region: 0 for
    every set. With ``into_rim`` the cross's bands are taken to extend beyond the frame (its "into rim" reading,
    :class:`~gdlib.regions.Cross`), so that the rim images centred in a band's extension count: those the paper's
    reading keeps and the stricter one holds out."""
    if cfg.holdout is None:
        return 0
    labels, category, _, _, train = _split_masks(cfg)
    holdout = replace(cfg.holdout, into_rim=True) if into_rim and hasattr(cfg.holdout, "into_rim") else cfg.holdout
    inside = region_codes(labels, holdout, cfg.n) > 0
    return int((train & np.isin(category, FORMULA_CATEGORIES) & inside).sum())


def rim_kept(cfg: DatasetConfig) -> dict[str, int]:
    """Rim images (partly visible crossings, App. C.1) in the training set of ``cfg`` under each reading of its
    composition cross (:data:`~gdlib.regions.CROSS_READINGS`: "frame", "into rim"); the same count twice when the
    hold-out is not a cross or the set has no rim."""
    rim = CATEGORIES.index("rim")
    count = lambda c: int(np.sum(categorise(training_labels(c), c) == rim))
    if not isinstance(cfg.holdout, Cross):
        return dict.fromkeys(CROSS_READINGS, count(cfg))
    return {r: count(replace(cfg, holdout=cfg.holdout.read_as(r))) for r in CROSS_READINGS}


def nested_subsets(cfg: DatasetConfig, fractions: list[float]) -> dict[float, DatasetConfig]:
    """The percolation sets of Sec. 3.3: one config per lambda with the same seed, so each contains the smaller."""
    for lam in fractions:
        check_range("lambda", lam, 0, 1, low_open=True)
    return {lam: replace(cfg, keep_fraction=lam) for lam in fractions}


def composition_sets(n: int = 32, sigma: float = 1.0, d: float = 0.1, margin: float = PAPER_MARGIN,
                     cross: HoldOut | None = None) -> dict[str, DatasetConfig]:
    """The training sets of Sec. 3.2 and App. C.1-C.2 (Fig. 4 a-b, Fig. 9 e-h, Fig. 10 a, d).

    The cross defaults to the paper's [13, 19] band scaled to N, over the frame only (:class:`Cross`, the paper's
    reading: rim images centred outside the frame are trained on). Only the 2D and rim data are held out; the
    stripes cover the full range of x and y (Fig. 4b).
    """
    cross = Cross.scaled(n) if cross is None else cross
    sos = DatasetConfig(family="sos", n=n, sigma=sigma, d=d, margin=margin, holdout=cross)
    return {
        "2D SOS": replace(sos, margin=0.0, include=("2D",)),
        "1D stripes (no rim)": replace(sos, include=("1D", "0D")),
        "1D stripes + 2D rim": replace(sos, include=("rim", "1D", "0D")),
        "2D+1D SOS": sos,
        "2D bump + 1D stripes": replace(sos, family="bump"),
    }
