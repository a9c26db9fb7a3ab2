"""Parameter checks shared by every config: one wording for every bad value.

Each check raises ``ValueError`` naming the parameter, the value it got and the allowed range,
for example ``sigma_x = -1.0 is not allowed: must be in (0, inf)``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable


def check_range(
    name: str,
    value: float,
    low: float = -math.inf,
    high: float = math.inf,
    *,
    low_open: bool = False,
    high_open: bool = False,
) -> None:
    """Raise ValueError unless ``low <= value <= high`` (strict on the open ends)."""
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} = {value!r} is not allowed: must be a number")
    too_low = value <= low if low_open else value < low
    too_high = value >= high if high_open else value > high
    if math.isnan(value) or too_low or too_high:
        left = "(" if low_open or low == -math.inf else "["
        right = ")" if high_open or high == math.inf else "]"
        raise ValueError(f"{name} = {value!r} is not allowed: must be in {left}{low}, {high}{right}")


def check_positive(name: str, value: float) -> None:
    """Raise ValueError unless ``value > 0``."""
    check_range(name, value, 0.0, math.inf, low_open=True)


def check_int(name: str, value: int, low: int = 0, high: int | None = None) -> None:
    """Raise ValueError unless ``value`` is an integer in [low, high]."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} = {value!r} is not allowed: must be an integer")
    check_range(name, value, low, math.inf if high is None else high)


def check_choice(name: str, value: object, allowed: Iterable[object]) -> None:
    """Raise ValueError unless ``value`` is one of ``allowed``."""
    allowed = tuple(allowed)
    if value not in allowed:
        raise ValueError(f"{name} = {value!r} is not allowed: must be one of {', '.join(map(repr, allowed))}")
