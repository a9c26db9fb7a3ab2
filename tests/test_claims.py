"""The claims report: the verdict rules, records on disk, and one REPORT.md that reads as a document."""

from __future__ import annotations

import csv
import json

from gdlib.claims import (
    CANNOT_TELL,
    FAILS,
    HOLDS,
    UNDECIDED,
    ClaimLog,
    Evidence,
    Gate,
    Outcome,
    Part,
    judge,
    load_claims,
    verdict,
)
from gdlib.report import assemble_report


def evidence(model_parts, controls=(), gates=()):
    return Evidence(Outcome(tuple(model_parts), "m"), {f"c{i}": Outcome((Part("p", ok),), "c") for i, ok in
                                                          enumerate(controls)}, {}, tuple(gates))


def test_verdict_follows_its_rules_in_order():
    ok, bad = Gate("a", "acc", 0.9, 0.6), Gate("b", "acc", 0.2, 0.6)
    passes = [Part("x", True, ("a",))]
    assert verdict(evidence(passes), "smoke")[0] == UNDECIDED
    assert verdict(evidence(passes, [False], [ok]), "quick") == (HOLDS, "the model passes and every control fails")
    # issue 23: a check measured beside no control says so instead of claiming that every control failed
    no_control = verdict(evidence(passes, [], [ok]), "quick")
    assert no_control == (HOLDS, "the model passes (this check has no control to fail)")
    decision, reason = verdict(evidence(passes, [False, True], [ok]), "quick")
    assert decision == CANNOT_TELL and "c1" in reason and "c0" not in reason  # a control passes too
    decision, reason = verdict(evidence([Part("x", True, ("a",)), Part("y", True, ("b",))], [False], [ok, bad]), "full")
    assert decision == UNDECIDED and "b: acc 20%" in reason  # a gate fails: not decided
    decision, reason = verdict(evidence([Part("x", False, ("a",)), Part("y", True, ("b",))], [True], [ok, bad]), "full")
    assert decision == FAILS and "x" in reason  # a clear failure of a gated-in half wins over a passing control
    decision, _ = verdict(evidence([Part("x", True, ("a",)), Part("y", False, ("b",))], [False], [ok, bad]), "full")
    assert decision == UNDECIDED  # the failing half rests on the model that did not learn


def test_a_model_part_whose_interval_straddles_its_threshold_gives_cannot_tell_not_a_failure():
    ok = Gate("a", "acc", 0.9, 0.6)
    for passes in (True, False):  # the point estimate's side of the threshold does not matter
        straddling = [Part("x", True, ("a",)), Part("y", passes, ("a",), straddles=True)]
        decision, reason = verdict(evidence(straddling, [False], [ok]), "quick")
        assert decision == CANNOT_TELL and "straddles" in reason and "y" in reason
    # a clear failure elsewhere still decides: does not hold
    mixed = [Part("x", False, ("a",)), Part("y", False, ("a",), straddles=True)]
    assert verdict(evidence(mixed, [False], [ok]), "quick")[0] == FAILS
    # a gate failure still leaves it not decided
    assert verdict(evidence([Part("y", False, ("a",), straddles=True)], [False], [Gate("a", "acc", 0.1, 0.6)]),
                   "quick")[0] == UNDECIDED


def test_a_control_that_does_not_clearly_fail_gives_cannot_tell():
    control = Outcome((Part("p", False, straddles=True),), "c")
    decision, reason = verdict(Evidence(Outcome((Part("x", True),), "m"), {"average": control}), "quick")
    assert decision == CANNOT_TELL and "average" in reason


def test_judge_applies_one_criterion_to_every_row():
    crit = lambda v: Outcome((Part(f"{v} > 1", v > 1),), str(v))  # noqa: E731
    ev = judge(crit, 3, {"noise": 0}, {"pixels": 2})
    assert [(r.name, r.role, r.passes) for r in ev.rows()] == [
        ("model", "model", True), ("noise", "control", False), ("pixels", "reference", True)]


def test_a_new_log_clears_the_notebooks_old_record_and_checks_are_replaced_by_id(tmp_path, monkeypatch):
    monkeypatch.setenv("GDLIB_OUTPUTS", str(tmp_path))
    old = ClaimLog("01_datasets", "quick")
    old.exact("D1", "s", "c", "1", False)
    assert old.path.exists()
    log = ClaimLog("01_datasets", "quick")
    assert not log.path.exists()  # a crash after this point cannot leave the last run's verdicts
    log.exact("D1", "s", "c", "1", False)
    log.exact("D1", "s", "c", "2", True)
    fig = tmp_path / "figures" / "a.png"
    fig.parent.mkdir()
    fig.write_bytes(b"png")
    log.figure("Fig. 1", fig, "caption")
    blob = json.loads(log.path.read_text())
    assert [c["rows"][0]["measured"] for c in blob["claims"]] == ["2"]
    assert blob["figures"][0]["file"] == "figures/a.png"
    claims, figures = load_claims(tmp_path)
    assert claims[0].verdict == HOLDS and claims[0].kind == "data" and figures[0].paper_figure == "Fig. 1"


def test_report_has_a_summary_the_calibrated_settings_and_a_section_per_notebook(tmp_path, monkeypatch):
    monkeypatch.setenv("GDLIB_OUTPUTS", str(tmp_path))
    crit = lambda v: Outcome((Part("v > 1", v > 1, ("m",)),), f"v = {v}")  # noqa: E731
    log3 = ClaimLog("03_representation", "quick")
    log3.check("C10", "late", "v > 1", judge(crit, 2, {"noise": 0}, gates=[Gate("m", "acc", 0.3, 0.6)]))
    log1 = ClaimLog("01_datasets", "quick")
    log1.calibrate("STEPS", "from earlier runs")
    log1.check("C2", "a | b", "v > 1", judge(crit, 2, {"noise": 5}), paper_value="7", scale="N = 16")
    log1.check("C1", "first", "v > 1", judge(crit, 2, {"noise": 0}))
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "f.png").write_bytes(b"png")
    log1.figure("Fig. 1", tmp_path / "figures" / "f.png", "cap")
    with (tmp_path / "runs.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["notebook", "profile", "status", "wall_s", "peak_mib"])
        writer.writerow(["01_datasets", "quick", "ok", "12.5", "300"])
    text = assemble_report(tmp_path).read_text()
    assert "of 3 checks, 1 hold, 0 do not hold, 1 cannot tell and 1 are not decided, at profile quick" in text
    assert "`STEPS`: from earlier runs" in text
    summary = [line for line in text.splitlines() if line.startswith("| C")]
    assert [r.split("|")[1].strip() for r in summary] == ["C1", "C2", "C10"]
    assert "a \\| b" in summary[1]  # a pipe in a statement does not break the table
    assert text.index("## 01_datasets") < text.index("#### C1:") < text.index("#### C2:") < text.index("## 03_")
    assert "| noise | control | v = 5 | passes |" in text and "a control passes too" in text
    assert "**Verdict: cannot tell** (a control passes too" in text
    assert "- Scale: N = 16" in text and "(gate 60%: FAILS)" in text
    assert "![Fig. 1](figures/f.png)" in text
    assert "| 01_datasets | quick | ok | 12.5 | 300 |" in text


def test_the_report_words_a_verdict_by_what_was_measured(tmp_path, monkeypatch):
    # issue 23: a check with no control says so; data and simulations are not "the model"
    monkeypatch.setenv("GDLIB_OUTPUTS", str(tmp_path))
    crit = lambda v: Outcome((Part("v > 1", v > 1),), f"v = {v}")  # noqa: E731
    log = ClaimLog("01_datasets", "quick")
    log.exact("D1", "count", "n == 4", "4", True)
    log.check("C11", "percolates", "v > 1", judge(crit, 2, {"noise": 0}), kind="reproduction")
    log.check("C3", "alone", "v > 1", judge(crit, 2, {}))
    log.check("C4", "beside noise", "v > 1", judge(crit, 2, {"noise": 0}))
    text = assemble_report(tmp_path).read_text()
    summary = {r.split("|")[1].strip(): r.split("|")[3].strip() for r in text.splitlines() if r.startswith("| ")
               and r.split("|")[1].strip() in ("D1", "C3", "C4", "C11")}
    assert summary == {"D1": "holds (no control)", "C3": "holds (no control)", "C4": "holds", "C11": "reproduces"}
    assert "**Verdict: holds (no control)** (the data passes (this check has no control to fail))" in text
    assert "**Verdict: reproduces** (the simulation passes and every control fails)" in text
    assert "**Verdict: holds** (the model passes and every control fails)" in text
    assert "of 3 checks, 3 hold (1 of them a simulation that reproduces), 0 do not hold" in text
    assert "and 1 of 1 data checks hold (1 with no control)." in text


def test_a_claims_file_written_before_the_fourth_verdict_loads_with_its_verdict(tmp_path):
    (tmp_path / "claims").mkdir()
    old = {"id": "C6b", "statement": "s", "paper_figure": "", "paper_value": "", "criterion": "c", "profile": "quick",
           "notebook": "05_composition", "rows": [{"name": "model", "role": "model", "measured": "m", "passes": True,
                                                   "parts": [{"name": "p", "passes": True, "models": ["2D"]}]}]}
    records = [{**old, "id": "C1", "holds": True, "reason": "the model passes and every control fails"},
               {**old, "id": "C2", "holds": False, "reason": "the model fails: p"},
               {**old, "id": "C3", "holds": False, "reason": "a control passes too, so the criterion cannot tell"},
               {**old, "id": "C4", "holds": None, "reason": "not decided: 2D: acc"}]
    (tmp_path / "claims" / "05_composition.json").write_text(json.dumps({"notebook": "05_composition",
                                                                          "claims": records}))
    claims, _ = load_claims(tmp_path)
    assert [c.verdict for c in claims] == [HOLDS, FAILS, CANNOT_TELL, UNDECIDED]
    assert claims[0].rows[0].parts[0].straddles is False


def test_a_straddling_part_survives_the_claims_file_and_the_report_marks_its_row(tmp_path, monkeypatch):
    monkeypatch.setenv("GDLIB_OUTPUTS", str(tmp_path))
    log = ClaimLog("05_composition", "quick")
    log.check("C9", "s", "c", Evidence(Outcome((Part("x 70% in [55%, 82%] >= 69%", True, straddles=True),), "m")))
    claims, _ = load_claims(tmp_path)
    assert claims[0].verdict == CANNOT_TELL and claims[0].rows[0].parts[0].straddles is True
    assert "| model | model | m | undecided (interval straddles) |" in assemble_report(tmp_path).read_text()
