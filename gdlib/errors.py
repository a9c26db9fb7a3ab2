"""The line of a traceback or a job's log that says what went wrong, for one-line failure reports."""

from __future__ import annotations

import re

_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Interrupt|Exit|Warning)\b.*")


def error_line(report: str) -> str:
    """The line of a traceback or log that says what went wrong (its last ``SomeError: message``)."""
    lines = [line for line in report.strip().splitlines() if line.strip()]
    for line in reversed(lines):
        if _EXCEPTION_LINE.match(line):
            return line.strip()
    return lines[-1].strip() if lines else "(no message)"
