"""The neighbour overlap of App. A.5: how much two data images share.

For inverted images a, b (darkness in [0, 1]) the overlap is ||sqrt(a * b)||_2 / ||a||_2, which is 1 for
an image with itself. It is computed on the images as the model sees them (rounded to uint8), like the
percolation simulation of App. D.1, which works on "actual 2D Gaussian bump datasets".
"""

from __future__ import annotations

import numpy as np

from gdlib import images as img
from gdlib.checks import check_positive


def overlap(a_images: np.ndarray, b_images: np.ndarray) -> np.ndarray:
    """App. A.5: ||sqrt(a b)||_2 / ||a||_2 on inverted images, per pair (broadcasts over leading axes).

    Note ||sqrt(a b)||_2 = sqrt(sum a b), so this is not symmetric: it is normalised by a.
    """
    a = img.darkness(a_images)
    b = img.darkness(b_images)
    axes = (-2, -1)
    norm_a = np.sqrt(np.sum(a * a, axis=axes))
    shared = np.sqrt(np.sum(a * b, axis=axes))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norm_a > 0, shared / norm_a, 0.0)


def neighbour_overlap(
    sigma: float,
    increments: np.ndarray,
    n: int = 32,
    centre: float = 16.0,
    quantize: bool = True,
) -> np.ndarray:
    """Fig. 6b: overlap of a bump at (centre, centre) with its neighbour at (centre + d, centre), for each d.

    On the pixel grid the curve depends on where the reference sits. From a pixel centre (the default,
    an integer) it falls monotonically with d. From a half-pixel centre the reference spreads its
    darkness over two pixels while the neighbour moving onto a pixel concentrates it and gets a larger
    norm, so for small sigma the overlap exceeds 1 near d = 0.5 (sigma = 0.3: about 1.035 at d = 0.4):
    the discretisation cusp App. A.5 notes. With ``quantize`` a very narrow bump between two pixels can
    vanish altogether (sigma = 0.1 at a half-pixel centre rounds to a white image).
    """
    check_positive("sigma", sigma)
    d = np.atleast_1d(np.asarray(increments, dtype=np.float64))
    ref = img.render("bump", [centre], [centre], n, sigma, sigma, quantize=quantize)
    moved = img.render("bump", centre + d, np.full_like(d, centre), n, sigma, sigma, quantize=quantize)
    return overlap(ref, moved)
