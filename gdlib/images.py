"""The image formulas of Sec. 2: Gaussian bumps, sums of stripes (SOS) and single stripes.

Pixel (x, y) has x, y in 1..N with (1, 1) top left, so ``image[y - 1, x - 1]`` is pixel (x, y).
Images are dark on white: 255 far from the centre. All functions are vectorised over centres and
separable: a 2D image is built from two 1D profiles, which is what makes 102,400 images take well
under a second.
"""

from __future__ import annotations

import numpy as np

from gdlib.checks import check_choice, check_int, check_positive

FAMILIES = ("bump", "sos", "stripe_x", "stripe_y")


def pixel_coordinates(n: int) -> np.ndarray:
    """The pixel positions 1..N along one axis (Sec. 2: top-left pixel is (1, 1))."""
    check_int("n", n, 1)
    return np.arange(1, n + 1, dtype=np.float64)


def offsets(mu: np.ndarray, n: int, periodic: bool) -> np.ndarray:
    """Signed distances ``x - mu`` from each centre to each pixel, shape (len(mu), N).

    Periodic boundaries (Sec. 3.1, the torus data) wrap the distance into [-N/2, N/2).
    """
    dx = pixel_coordinates(n)[None, :] - np.asarray(mu, dtype=np.float64)[:, None]
    if periodic:
        dx = (dx + n / 2) % n - n / 2
    return dx


def profile(mu: np.ndarray, sigma: float, n: int, periodic: bool = False) -> np.ndarray:
    """The 1D Gaussian factor ``exp(-(x - mu)^2 / (4 sigma^2))`` of Sec. 2, shape (len(mu), N)."""
    check_positive("sigma", sigma)
    return np.exp(-offsets(mu, n, periodic) ** 2 / (4.0 * sigma**2))


def render(
    family: str,
    mu_x: np.ndarray,
    mu_y: np.ndarray,
    n: int,
    sigma_x: float = 1.0,
    sigma_y: float = 1.0,
    periodic: bool = False,
    quantize: bool = True,
) -> np.ndarray:
    """Images of one family at centres (mu_x[i], mu_y[i]), shape (len(mu_x), N, N).

    - ``bump``: v = 255 (1 - exp(-(x-mu_x)^2/4sx^2 - (y-mu_y)^2/4sy^2))          (Sec. 2)
    - ``sos``:  v = 255 (1 - (exp(-(x-mu_x)^2/4sx^2) + exp(-(y-mu_y)^2/4sy^2)) / 2)  (Sec. 2)
    - ``stripe_x`` / ``stripe_y``: the single vertical (x) or horizontal (y) stripe of the SOS,
      v = 255 (1 - exp(-(x-mu_x)^2/4sx^2) / 2); this is what the SOS formula draws when the other
      stripe lies outside the visible frame (App. C.1).

    ``quantize`` rounds to uint8 as stored on disk; otherwise float64 values in [0, 255].
    """
    check_choice("family", family, FAMILIES)
    mu_x = np.atleast_1d(np.asarray(mu_x, dtype=np.float64))
    mu_y = np.atleast_1d(np.asarray(mu_y, dtype=np.float64))
    if mu_x.shape != mu_y.shape:
        raise ValueError(f"mu_x and mu_y must have the same shape, got {mu_x.shape} and {mu_y.shape}")
    # Separable factors: ex[i, col] for the x direction, ey[i, row] for the y direction.
    dtype = np.float32 if quantize else np.float64  # float32 is exact enough for uint8 and 10x faster
    ex = profile(mu_x, sigma_x, n, periodic).astype(dtype)
    ey = profile(mu_y, sigma_y, n, periodic).astype(dtype)
    if family == "bump":
        darkness = ey[:, :, None] * ex[:, None, :]
    elif family == "sos":
        darkness = 0.5 * (ey[:, :, None] + ex[:, None, :])
    elif family == "stripe_x":
        darkness = np.broadcast_to(0.5 * ex[:, None, :], (len(mu_x), n, n))
    else:
        darkness = np.broadcast_to(0.5 * ey[:, :, None], (len(mu_x), n, n))
    values = 255.0 * (1.0 - darkness)
    if not quantize:
        return values
    values += 0.5  # round half up, then truncate: values lie in [0.5, 255.5]
    return values.astype(np.uint8)


def darkness(images: np.ndarray) -> np.ndarray:
    """Inverted images in [0, 1]: 0 for white, 1 for black (App. A.5 works on inverted images)."""
    return (255.0 - np.asarray(images, dtype=np.float64)) / 255.0
