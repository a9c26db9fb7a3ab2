"""The claims report: records survive on disk and assemble into one REPORT.md."""

from __future__ import annotations

import csv
import json

from gdlib.claims import ClaimLog, assemble_report, load_claims


def test_claims_and_figures_are_saved_and_replaced_by_id(tmp_path, monkeypatch):
    monkeypatch.setenv("GDLIB_OUTPUTS", str(tmp_path))
    log = ClaimLog("01_datasets", "smoke")
    log.check(id="D1", statement="s", measured="1", holds=False, criterion="c")
    log.check(id="D1", statement="s", measured="2", holds=True, criterion="c")
    fig = tmp_path / "figures" / "a.png"
    fig.parent.mkdir()
    fig.write_bytes(b"png")
    log.figure("Fig. 1", fig, "caption")
    blob = json.loads((tmp_path / "claims" / "01_datasets.json").read_text())
    assert [c["measured"] for c in blob["claims"]] == ["2"]
    assert blob["figures"][0]["file"] == "figures/a.png"
    claims, figures = load_claims(tmp_path)
    assert claims[0].holds is True and figures[0].paper_figure == "Fig. 1"


def test_report_lists_every_claim_in_order_with_its_verdict_and_the_runtimes(tmp_path, monkeypatch):
    monkeypatch.setenv("GDLIB_OUTPUTS", str(tmp_path))
    ClaimLog("03_representation", "quick").check(id="C10", statement="late", measured="x", holds=None,
                                                  criterion="c", note="too small")
    log = ClaimLog("01_datasets", "quick")
    log.check(id="C2", statement="a | b", measured="m", holds=False, criterion="c", paper_value="7")
    log.check(id="C1", statement="first", measured="m", holds=True, criterion="c")
    with (tmp_path / "runs.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["notebook", "profile", "status", "wall_s", "peak_mib"])
        writer.writerow(["01_datasets", "quick", "ok", "12.5", "300"])
    text = assemble_report(tmp_path).read_text()
    rows = [line for line in text.splitlines() if line.startswith("| C")]
    assert [r.split("|")[1].strip() for r in rows] == ["C1", "C2", "C10"]
    assert "holds" in rows[0] and "**does not hold**" in rows[1] and "not decided" in rows[2]
    assert "a \\| b" in rows[1]  # a pipe in a statement does not break the table
    assert "| 01_datasets | quick | ok | 12.5 | 300 |" in text
