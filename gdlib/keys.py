"""Cache keys: one hash for every kind of config (training runs, datasets), of a canonical form.

Two configs that mean the same thing must hash alike, or the cache retrains a model it already
has: in the canonical form mappings are sorted by key, tuples and lists are the same (JSON arrays),
and a number is written by its value, not its type (``6``, ``6.0`` and ``numpy.float64(6)`` are one
number: a float with a whole value is written as an integer). Floats keep ``repr``'s shortest exact
digits, so ``0.1 + 0.2`` and ``0.3`` stay different values. NaN and infinities are refused.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import numbers
from collections.abc import Mapping
from typing import Any

KEY_LENGTH = 12  # hex digits of SHA-256: 48 bits, far from a collision among a project's few thousand runs


def canonical(value: Any) -> Any:
    """``value`` as plain JSON data in which equal configs are equal (see the module docstring)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = value.to_dict() if hasattr(value, "to_dict") else dataclasses.asdict(value)
    if isinstance(value, Mapping):
        return {str(k): canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    if value is None or isinstance(value, (bool, str)):
        return value
    if hasattr(value, "item") and not isinstance(value, numbers.Number):  # a 0-d numpy array
        value = value.item()
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(f"{number!r} has no cache key: a config value must be a finite number")
        return int(number) if number.is_integer() else number
    raise TypeError(f"{value!r} ({type(value).__name__}) has no canonical form for a cache key")


def config_key(value: Any) -> str:
    """The first :data:`KEY_LENGTH` hex digits of the SHA-256 of ``value``'s canonical JSON."""
    blob = json.dumps(canonical(value), sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(blob.encode()).hexdigest()[:KEY_LENGTH]


def coerce_floats(config: Any) -> None:
    """In a frozen dataclass, turn the ints given to ``float`` fields into floats (``lr=1`` is ``1.0``),
    so that a config reads, compares and prints the same however its numbers were typed."""
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if f.type in ("float", float) and isinstance(value, numbers.Integral) and not isinstance(value, bool):
            object.__setattr__(config, f.name, float(value))
