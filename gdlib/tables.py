"""How the package shows numbers: one percent format, and text and Markdown tables through pandas.

Every claim's measured text, gate and table writes a fraction with :func:`pct` ("42%", or "n/a" when there is
no value); tables are pandas DataFrames, printed with :func:`text_table` (``DataFrame.to_string``) or shown
with :func:`markdown_table` (``DataFrame.to_markdown``, through the tabulate package).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import pandas as pd

MISSING = "n/a"


def pct(value: float | None, digits: int = 0) -> str:
    """``value`` (a fraction) as a percentage with ``digits`` decimals, e.g. ``pct(0.4213) == "42%"``;
    :data:`MISSING` for None, NaN or an infinity."""
    if value is None or not math.isfinite(value):
        return MISSING
    return f"{100 * value:.{digits}f}%"


def formatted(frame: pd.DataFrame, percent: Iterable[str] = (), digits: int = 0) -> pd.DataFrame:
    """A copy of ``frame`` with the fractions of the ``percent`` columns written by :func:`pct`, other floats with
    ``:g`` and missing values blank: a table for reading, not for computing."""
    out = frame.copy()
    percent = set(percent)
    for col in out.columns:
        if col in percent:
            out[col] = [pct(v, digits) if isinstance(v, float) else v for v in out[col]]
        elif pd.api.types.is_float_dtype(out[col]) or out[col].dtype == object:
            out[col] = ["" if v is None or (isinstance(v, float) and math.isnan(v)) else
                        f"{v:g}" if isinstance(v, float) else v for v in out[col]]
    return out


def text_table(frame: pd.DataFrame, percent: Iterable[str] = (), digits: int = 0) -> str:
    """Plain-text table of ``frame`` without its index (:func:`formatted`, then ``to_string``)."""
    if frame.empty:
        return "(no rows)"
    return formatted(frame, percent, digits).to_string(index=False)


def markdown_table(frame: pd.DataFrame, percent: Iterable[str] = (), digits: int = 0) -> str:
    """Markdown table of ``frame`` without its index (:func:`formatted`, then ``to_markdown``)."""
    return formatted(frame, percent, digits).to_markdown(index=False)


__all__ = ["MISSING", "pct", "formatted", "text_table", "markdown_table"]
