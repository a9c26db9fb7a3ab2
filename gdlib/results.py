"""The README's results table: a committed snapshot of each profile's last run, and the table written from them.

The table is never edited by hand (issue 23). After a finished run, on the machine that made it::

    python -m gdlib.results snapshot --profile quick     # outputs/claims/*.json -> results/quick.json
    python -m gdlib.results readme                       # results/*.json -> the table in README.md

A snapshot holds what a reader needs to weigh the verdicts: the run's date (the last notebook's finish time in
``runs.csv``), the CPU and GPU, the commit (each notebook's, from ``runs.csv``), the notebooks' summed wall time,
and each claim's id, statement, verdict, number of controls and the model row's numbers.
``tests/test_results.py`` checks that README.md's table is what :func:`readme_table` makes of the committed
snapshots, so a hand edit fails the tests.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from gdlib.claims import SMOKE, ClaimCheck, load_claims, verdict_words
from gdlib.parameters import available_profiles
from gdlib.paths import REPO, atomic_write_json, atomic_write_text, outputs_dir

#: The profiles the README's table shows, one column each.
TABLE_PROFILES = ("quick", "extended")
#: Profiles whose verdicts are not evidence: tiny models (smoke) or a few steps per model (gpu-check).
NOT_EVIDENCE = (SMOKE, "gpu-check")
SNAPSHOT_KEYS = ("profile", "date", "cpu", "gpu", "commit", "wall_s", "notebooks", "claims")
CLAIM_KEYS = {"id", "statement", "verdict", "measured"}
RESULTS = REPO / "results"
README = REPO / "README.md"
BEGIN = "<!-- results table: written by `python -m gdlib.results readme`, do not edit -->"
END = "<!-- end of results table -->"
NOT_RUN = "not run yet"
UNKNOWN = "unknown"  # the commit outside a git checkout
#: A table cell's longest statement and number: the README stays under 10,000 characters with every claim.
STATEMENT_CHARS = 54
NUMBER_CHARS = 44


# the machine and the code a run used ----------------------------------------------------------------------
def cpu_model() -> str:
    """The CPU's model (:func:`gdlib.device.cpu_model`) and core count."""
    from gdlib import device  # only a snapshot needs it: the table commands stay free of torch's import

    return f"{device.cpu_model()}, {os.cpu_count()} cores"


def gpu_model() -> str:
    """The GPUs ``nvidia-smi`` lists, or ``"none"`` (no torch import: this runs after the run)."""
    if shutil.which("nvidia-smi") is None:
        return "none"
    done = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"], capture_output=True, text=True)
    names = [n.strip() for n in done.stdout.splitlines() if n.strip()]
    return ", ".join(names) if done.returncode == 0 and names else "none"


def commit(repo: Path = REPO) -> str:
    """The checked-out commit, with ``-dirty`` when tracked files differ from it; ``unknown`` outside git."""
    def git(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True)

    try:
        head = git("rev-parse", "--short=10", "HEAD")
    except OSError:  # no git (a minimal container), or no such folder
        return UNKNOWN
    if head.returncode != 0:
        return UNKNOWN
    dirty = git("status", "--porcelain", "--untracked-files=no").stdout.strip()
    return head.stdout.strip() + ("-dirty" if dirty else "")


# a snapshot -------------------------------------------------------------------------------------------------
def _runs(outputs: Path, profile: str) -> list[dict[str, str]]:
    path = outputs / "runs.csv"
    if not path.exists():
        return []
    with path.open(newline="") as fh:
        return [r for r in csv.DictReader(fh) if r.get("profile") == profile]


def _claim_entry(c: ClaimCheck) -> dict[str, Any]:
    return {"id": c.id, "statement": c.statement, "verdict": c.verdict, "kind": c.kind, "notebook": c.notebook,
            "measured": c.measured, "controls": c.controls}


def _run_commit(runs: list[dict[str, str]], given: str) -> str:
    """The commits the run's notebooks recorded in runs.csv (comma-separated when ``--only`` reruns used others).
    ``given`` is the commit of the rows that record none (written before runs.csv had the column, or outside git),
    and is refused where every row records one and it is not among them."""
    recorded = {r.get("commit", "") for r in runs} - {"", UNKNOWN}
    unrecorded = [r["notebook"] for r in runs if r.get("commit", "") in ("", UNKNOWN)]
    if unrecorded and not given:
        raise ValueError(f"runs.csv records no commit for {', '.join(unrecorded)} (rows from before runs recorded "
                         "it, or run outside git): give the commit those notebooks ran at with --commit")
    if given and not unrecorded and given not in recorded:
        raise ValueError(f"--commit {given} disagrees with the commit runs.csv records: {', '.join(sorted(recorded))}")
    return ", ".join(sorted(recorded | ({given} if unrecorded else set())))


def snapshot(outputs: Path, profile: str, note: str = "", run_commit: str = "") -> dict[str, Any]:
    """The snapshot of the run under ``outputs`` at ``profile``. A ``ValueError`` says why there is none: a
    profile whose verdicts are not evidence (:data:`NOT_EVIDENCE`) or that does not exist, no claims or no
    ``runs.csv`` rows recorded, or claims recorded at another profile (a mixed folder). ``note``: what the
    table's line about the run must add, in the words of whoever ran it (a run resumed from a model cache,
    whose summed wall time is then not its compute time, says so here). ``run_commit``: see :func:`_run_commit`."""
    allowed = [p for p in available_profiles() if p not in NOT_EVIDENCE]
    if profile in NOT_EVIDENCE:
        raise ValueError(f"the {profile} profile's verdicts are not evidence: snapshot one of {', '.join(allowed)}")
    if profile not in allowed:
        raise ValueError(f"--profile {profile!r} is not a profile: one of {', '.join(allowed)}")
    claims, _ = load_claims(outputs)
    if not claims:
        raise ValueError(f"no claims under {outputs / 'claims'}: run ./run_all.sh --profile {profile} first")
    other = sorted({f"{c.id} ({c.profile})" for c in claims if c.profile != profile})
    if other:
        raise ValueError(f"{outputs} holds claims of another profile than {profile}: {', '.join(other)}")
    runs = _runs(outputs, profile)
    if not runs:
        raise ValueError(f"no {profile} rows in {outputs / 'runs.csv'}: the snapshot takes the run's date, wall "
                         "time and commit from there (run the notebooks through ./run_all.sh)")
    return {
        "profile": profile,
        "date": max(r.get("finished_at", "") for r in runs),
        "cpu": cpu_model(),
        "gpu": gpu_model(),
        "commit": _run_commit(runs, run_commit),
        "wall_s": round(sum(float(r["wall_s"]) for r in runs if r.get("wall_s")), 1),
        "notebooks": {r["notebook"]: r.get("status", "") for r in runs},
        "claims": [_claim_entry(c) for c in claims],
        "note": " ".join(note.split()),
    }


def write_snapshot(outputs: Path, profile: str, results: Path = RESULTS, note: str = "", run_commit: str = "") -> Path:
    path = Path(results) / f"{profile}.json"
    atomic_write_json(path, snapshot(Path(outputs), profile, note, run_commit))
    return path


def load_snapshot(profile: str, results: Path = RESULTS) -> dict[str, Any] | None:
    """The committed snapshot of ``profile``, or None when that profile has not been run yet; a ``ValueError``
    names a folder that does not exist and a file that is not a snapshot."""
    if not Path(results).is_dir():
        raise ValueError(f"--results {results}: no such folder (the snapshots are in results/)")
    path = Path(results) / f"{profile}.json"
    if not path.exists():
        return None
    try:
        snap = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON ({err}): write it again with the snapshot command") from None
    missing = [k for k in SNAPSHOT_KEYS if k not in snap] if isinstance(snap, dict) else list(SNAPSHOT_KEYS)
    claims = snap.get("claims") if isinstance(snap, dict) else None
    if not missing and not (isinstance(claims, list) and all(isinstance(c, dict) and CLAIM_KEYS <= c.keys()
                                                                for c in claims)):
        missing = [f"a claim's {', '.join(sorted(CLAIM_KEYS))}"]
    if missing:
        raise ValueError(f"{path} is not a snapshot (missing {', '.join(missing)}): write it with the snapshot "
                         "command")
    return snap


# the table --------------------------------------------------------------------------------------------------
def trim(text: str, limit: int) -> str:
    """``text`` on one line, cut at a word before ``limit`` characters (with an ellipsis when cut)."""
    text = " ".join(str(text).split()).replace("|", "/")
    if len(text) <= limit:
        return text
    cut = text[:limit - 3].rsplit(" ", 1)[0].rstrip(",;:")
    return cut + "..."


def _cell(claim: Mapping[str, str] | None, snap: Mapping[str, Any] | None) -> str:
    if snap is None:
        return NOT_RUN
    if claim is None:
        return "not checked"
    number = trim(claim["measured"].split("; ")[0], NUMBER_CHARS)
    words = verdict_words(claim["verdict"], claim.get("kind", "claim"), claim.get("controls"))
    return f"**{words}**: {number}" if number else f"**{words}**"


def _order(claim_id: str) -> tuple:
    digits = "".join(ch for ch in claim_id if ch.isdigit())
    return (claim_id.rstrip("0123456789abcdefgh"), int(digits) if digits else 0, claim_id)


def _about(profile: str, snap: Mapping[str, Any] | None) -> str:
    if snap is None:
        return f"- `{profile}`: {NOT_RUN}."
    failed = [nb for nb, status in snap.get("notebooks", {}).items() if status != "ok"]
    gpu = "" if snap.get("gpu", "none") == "none" else f", {snap['gpu']}"
    line = (f"- `{profile}`: {snap['date'][:10]}, commit `{snap['commit']}`, {snap['cpu']}{gpu}; "
            f"the notebooks took {snap['wall_s'] / 60:.0f} min")
    line += f"; did not finish: {', '.join(failed)}." if failed else "."
    return line + (f" {snap['note'].rstrip('.')}." if snap.get("note") else "")


def readme_table(snapshots: Mapping[str, Mapping[str, Any] | None]) -> str:
    """The README's results table (between :data:`BEGIN` and :data:`END`) from each profile's snapshot."""
    by_profile = {p: {c["id"]: c for c in (s or {}).get("claims", [])} for p, s in snapshots.items()}
    ids = sorted({i for claims in by_profile.values() for i in claims}, key=_order)
    header = ["claim", "the paper says", *(f"`{p}`" for p in snapshots)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for i in ids:
        first = next(claims[i] for claims in by_profile.values() if i in claims)
        cells = [_cell(by_profile[p].get(i), s) for p, s in snapshots.items()]
        lines.append("| " + " | ".join([i, trim(first["statement"], STATEMENT_CHARS), *cells]) + " |")
    if not ids:
        lines.append("| " + " | ".join(["-", "-", *(NOT_RUN for _ in snapshots)]) + " |")
    lines += ["", *(_about(p, s) for p, s in snapshots.items())]
    return "\n".join([BEGIN, *lines, END])


def with_table(text: str, table: str, name: str = "README.md") -> str:
    """``text`` (the README, file ``name``) with the part from :data:`BEGIN` to :data:`END` replaced by ``table``."""
    if BEGIN not in text or END not in text:
        raise ValueError(f"{name} has no results table markers: put {BEGIN!r} and {END!r} where it goes")
    head, rest = text.split(BEGIN, 1)
    return head + table + rest.split(END, 1)[1]


def committed_table(results: Path = RESULTS) -> str:
    return readme_table({p: load_snapshot(p, results) for p in TABLE_PROFILES})


# the command line -------------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m gdlib.results", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    snap = commands.add_parser("snapshot", help="write results/<profile>.json from a finished run's outputs")
    snap.add_argument("--profile", required=True, help="the profile the run used (quick, extended, full)")
    snap.add_argument("--outputs", type=Path, default=None, help="the run's outputs folder (default outputs/)")
    snap.add_argument("--results", type=Path, default=RESULTS, help="where snapshots live (default results/)")
    snap.add_argument("--commit", default="", help="the commit the run used, for a runs.csv written before runs "
                      "recorded it")
    snap.add_argument("--note", default="", help="a sentence the table's line about this run adds (for instance "
                      "that it resumed from a model cache, so its wall time is not its compute time)")
    readme = commands.add_parser("readme", help="rewrite README.md's results table from results/*.json")
    readme.add_argument("--results", type=Path, default=RESULTS, help="where snapshots live (default results/)")
    readme.add_argument("--readme", type=Path, default=README, help="the README to rewrite (default README.md)")
    readme.add_argument("--check", action="store_true", help="change nothing; exit 1 if the table is stale")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "snapshot":
            path = write_snapshot(args.outputs or outputs_dir(), args.profile, args.results, args.note, args.commit)
            print(f"wrote {path}; now run: python -m gdlib.results readme")
            return 0
        if not args.readme.is_file():
            raise ValueError(f"--readme {args.readme}: no such file")
        text = args.readme.read_text()
        new = with_table(text, committed_table(args.results), str(args.readme))
    except ValueError as err:
        print(f"gdlib.results: {err}", file=sys.stderr)
        return 2
    if args.check:
        print("README.md's results table is " + ("up to date" if new == text else "stale: run the readme command"))
        return 0 if new == text else 1
    if new != text:
        atomic_write_text(args.readme, new)
    print(f"{args.readme}: results table written from {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
