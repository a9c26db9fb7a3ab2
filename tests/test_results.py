"""The README: short, its results table written from the committed snapshots, every link resolving."""

from __future__ import annotations

import json
import re

import pytest

from gdlib import results
from gdlib.claims import ClaimLog, Evidence, Outcome, Part
from gdlib.parameters import available_profiles
from gdlib.paths import REPO


def _finished_run(root, profile="quick"):
    """An outputs folder as a run leaves it: two notebooks' claim records and runs.csv."""
    log = ClaimLog("02_training", profile)
    good = Evidence(Outcome((Part("acc >= 60%", True),), "joint accuracy 83.1% [79.0, 87.2]; 1024 samples"),
                    controls={"untrained": Outcome((Part("acc >= 60%", False),), "joint accuracy 0.0%")})
    log.check("T1", "the model learns its training set", "acc >= 60%", good)
    other = ClaimLog("03_representation", profile)
    bad = Evidence(Outcome((Part("PR <= 4", False),), "participation ratio 7.9"))
    other.check("C2", "the representation is a low-dimensional torus | with a pipe", "PR <= 4", bad)
    data = ClaimLog("01_datasets", profile)
    data.exact("D1", "the dataset has 1024 images", "count == 1024", "1,024", True)
    sim = ClaimLog("07_percolation", profile)
    sim.check("C11", "the simulation percolates", "onset < 0.5", good, kind="reproduction")
    (root / "runs.csv").write_text("notebook,profile,status,wall_s,peak_mib,finished_at,commit\n"
                                   f"02_training,{profile},ok,341.50,900.0,2025-01-02T10:00:00+00:00,abc123\n"
                                   f"03_representation,{profile},ok,70.25,800.0,2025-01-02T10:02:00+00:00,abc123\n")
    return root


@pytest.fixture
def outputs(tmp_path, monkeypatch):
    monkeypatch.setenv("GDLIB_OUTPUTS", str(tmp_path / "outputs"))
    (tmp_path / "outputs").mkdir()
    return _finished_run(tmp_path / "outputs")


def test_a_snapshot_of_a_finished_run_round_trips_through_its_json_file(outputs, tmp_path):
    path = results.write_snapshot(outputs, "quick", tmp_path / "results")
    snap = results.load_snapshot("quick", tmp_path / "results")
    assert path == tmp_path / "results" / "quick.json"
    assert snap == json.loads(json.dumps(results.snapshot(outputs, "quick"))) | {"gpu": snap["gpu"]}
    assert snap["date"] == "2025-01-02T10:02:00+00:00" and snap["wall_s"] == 411.8
    assert snap["notebooks"] == {"02_training": "ok", "03_representation": "ok"}
    verdicts = {c["id"]: (c["verdict"], c["controls"]) for c in snap["claims"]}
    assert verdicts == {"D1": ("holds", 0), "T1": ("holds", 1), "C2": ("does not hold", 0), "C11": ("holds", 1)}
    assert next(c for c in snap["claims"] if c["id"] == "T1")["measured"].startswith("joint accuracy 83.1%")
    assert snap["commit"] == "abc123" and snap["cpu"].endswith("cores")  # the run's commit, from runs.csv


def test_the_table_shows_each_claim_once_with_its_verdict_and_first_number_per_profile(outputs, tmp_path):
    table = results.readme_table({"quick": results.snapshot(outputs, "quick"), "extended": None})
    rows = [line for line in table.splitlines() if line.startswith("| C") or line.startswith("| T")]
    assert rows[0].startswith("| C2 | the representation is a low-dimensional torus /... |")  # cut, no pipe
    assert "**does not hold**: participation ratio 7.9 | not run yet |" in rows[0]
    assert rows[2].endswith("| **holds**: joint accuracy 83.1% [79.0, 87.2] | not run yet |")
    assert "| C11 | the simulation percolates | **reproduces**: joint accuracy" in rows[1]  # worded as the report
    assert "| D1 | the dataset has 1024 images | **holds (no control)**: 1,024 |" in table  # says what it rests on
    assert "- `extended`: not run yet." in table and "the notebooks took 7 min" in table


def test_a_snapshot_s_note_reaches_the_line_about_its_run(outputs, tmp_path):
    snap = results.snapshot(outputs, "quick", note="Resumed from\n a model cache.")
    assert snap["note"] == "Resumed from a model cache."  # one line
    assert "the notebooks took 7 min. Resumed from a model cache." in results.readme_table({"quick": snap})
    assert results.snapshot(outputs, "quick")["note"] == ""


def test_a_snapshot_refuses_smoke_an_empty_folder_and_claims_of_another_profile(outputs, tmp_path):
    for profile in ("smoke", "gpu-check"):
        with pytest.raises(ValueError, match=f"the {profile} profile's verdicts are not evidence"):
            results.snapshot(outputs, profile)
    with pytest.raises(ValueError, match="--profile 'bogus' is not a profile: one of extended, full, quick"):
        results.snapshot(outputs, "bogus")
    with pytest.raises(ValueError, match="another profile"):
        results.snapshot(outputs, "extended")
    with pytest.raises(ValueError, match="no claims"):
        results.snapshot(tmp_path / "empty", "quick")
    (outputs / "runs.csv").unlink()  # no date, wall time or commit to record: refused, not made up
    with pytest.raises(ValueError, match="no quick rows in .*runs.csv"):
        results.snapshot(outputs, "quick")


def test_a_snapshot_takes_the_commit_each_notebook_recorded_and_a_given_one_only_for_old_rows(outputs):
    runs = outputs / "runs.csv"
    runs.write_text(runs.read_text().replace(",abc123\n", ",def456\n", 1))  # 03 rerun with --only at another
    assert results.snapshot(outputs, "quick")["commit"] == "abc123, def456"
    runs.write_text(runs.read_text().replace(",commit", "").replace(",abc123", "").replace(",def456", ""))
    with pytest.raises(ValueError, match="records no commit for 02_training, 03_representation .* --commit"):
        results.snapshot(outputs, "quick")
    assert results.snapshot(outputs, "quick", run_commit="0ld0ne")["commit"] == "0ld0ne"
    runs.write_text(runs.read_text().replace("finished_at", "finished_at,commit").replace("+00:00", "+00:00,abc"))
    with pytest.raises(ValueError, match="--commit 0ld0ne disagrees with the commit runs.csv records: abc"):
        results.snapshot(outputs, "quick", run_commit="0ld0ne")
    # an old row beside one rerun with --only, or a row written outside git: --commit names the old rows' commit
    for old in ("", results.UNKNOWN):
        runs.write_text(runs.read_text().replace("+00:00,abc\n", f"+00:00,{old}\n", 1))
        with pytest.raises(ValueError, match="records no commit for 02_training "):
            results.snapshot(outputs, "quick")
        assert results.snapshot(outputs, "quick", run_commit="0ld0ne")["commit"] == "0ld0ne, abc"
        runs.write_text(runs.read_text().replace(f"+00:00,{old}\n", "+00:00,abc\n", 1))


def test_the_commit_outside_git_or_without_git_is_unknown(tmp_path, monkeypatch):
    assert results.commit(tmp_path) == results.UNKNOWN  # not a checkout
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    assert results.commit() == results.UNKNOWN  # no git program: a run must not fail on it


@pytest.mark.parametrize("content, message", [
    (None, "--results {folder}: no such folder"),
    ("{not json", "quick.json is not valid JSON"),
    ('{"profile": "quick"}', "quick.json is not a snapshot \\(missing date, cpu"),
    (json.dumps({k: [{"id": "C1"}] for k in results.SNAPSHOT_KEYS}), "missing a claim's id, measured, statement"),
    ("[1, 2]", "quick.json is not a snapshot"),
])
def test_the_readme_command_names_a_bad_results_folder_or_file_and_leaves_the_readme(tmp_path, capsys, content,
                                                                                     message):
    folder = tmp_path / "results"
    if content is not None:
        folder.mkdir()
        (folder / "quick.json").write_text(content)
    readme = tmp_path / "README.md"
    readme.write_text(before := f"# title\n{results.BEGIN}\nold table\n{results.END}\n")
    assert results.main(["readme", "--results", str(folder), "--readme", str(readme)]) == 2
    assert re.search(message.format(folder=re.escape(str(folder))), capsys.readouterr().err)
    assert readme.read_text() == before
    assert results.main(["readme", "--results", str(folder), "--readme", str(tmp_path / "nope.md")]) == 2
    assert f"--readme {tmp_path / 'nope.md'}: no such file" in capsys.readouterr().err
    (tmp_path / "other.md").write_text("no markers")
    assert results.main(["readme", "--readme", str(tmp_path / "other.md")]) == 2
    assert f"{tmp_path / 'other.md'} has no results table markers" in capsys.readouterr().err


def test_the_readme_command_rewrites_only_the_part_between_the_markers(outputs, tmp_path, capsys):
    results.write_snapshot(outputs, "quick", tmp_path / "results")
    readme = tmp_path / "README.md"
    readme.write_text(f"# title\n\n{results.BEGIN}\nold table\n{results.END}\n\nafter\n")
    assert results.main(["readme", "--results", str(tmp_path / "results"), "--readme", str(readme), "--check"]) == 1
    assert results.main(["readme", "--results", str(tmp_path / "results"), "--readme", str(readme)]) == 0
    text = readme.read_text()
    assert text.startswith("# title\n\n" + results.BEGIN) and text.endswith(results.END + "\n\nafter\n")
    assert "| T1 |" in text and "old table" not in text
    assert results.main(["readme", "--results", str(tmp_path / "results"), "--readme", str(readme), "--check"]) == 0


def test_the_readme_table_is_the_one_the_committed_snapshots_give():
    readme = (REPO / "README.md").read_text()
    table = results.committed_table()
    assert table in readme, "README.md's results table was edited by hand: run python -m gdlib.results readme"
    outside = readme.replace(table, "")
    assert results.BEGIN not in outside and not re.search(r"^\| [CDT]\d", outside, flags=re.M), \
        "a results row outside the written table"


def test_the_readme_says_how_long_each_profile_takes_on_a_2_core_cpu_and_a_gpu():
    readme = (REPO / "README.md").read_text()
    section = readme.split("## How long it takes", 1)[1].split("\n## ", 1)[0]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in section.splitlines() if line.startswith("|")]
    header, body = rows[0], rows[2:]
    cpu, gpu = header.index("2-core CPU"), header.index("GPU")
    assert sorted(r[0].split()[0].strip("`") for r in body) == available_profiles()
    timed = re.compile(r"\d+(\.\d+)?\s*(s|min|h|hours?|seconds)\b|not measured|not meant for")
    vague = [f"{r[0]}: {r[i]!r}" for r in body for i in (cpu, gpu) if not timed.search(r[i])]
    assert not vague, f"each profile's time is measured (a number and unit) or 'not measured': {vague}"


def test_ci_runs_exactly_the_test_command_the_readme_gives():
    readme = (REPO / "README.md").read_text()
    ci = [line.strip() for line in (REPO / ".ci" / "run").read_text().splitlines() if line.startswith("./run_all.sh")]
    assert ci == ["./run_all.sh --tests"] and "./run_all.sh --tests    #" in readme


def test_the_readme_is_at_most_10000_characters():
    size = len((REPO / "README.md").read_bytes())
    assert size <= 10_000, f"README.md is {size} characters: move text into docs/"


def test_the_readme_still_fits_when_both_profiles_fill_the_table_with_the_longest_cells():
    claims = [{"id": f"C{i}c", "statement": "word " * 40, "verdict": "does not hold", "kind": "reproduction",
               "notebook": "05", "measured": "1234567 " * 20} for i in range(24)]  # "does not reproduce": longest
    snap = {"date": "2025-01-02T10:02:00+00:00", "commit": "0123456789-dirty", "wall_s": 9999.0, "gpu": "none",
            "cpu": "Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz, 2 cores", "notebooks": {}, "claims": claims}
    readme = results.with_table((REPO / "README.md").read_text(), results.readme_table(
        {p: snap for p in results.TABLE_PROFILES}))
    assert len(readme.encode()) <= 10_000, f"24 claims would make README.md {len(readme.encode())} characters"


FENCES = re.compile(r"^(```|~~~).*?^\1", flags=re.S | re.M)


def _links(path):
    """Relative link targets of a Markdown file (no URLs), as (file, #fragment); an in-page anchor has file ''."""
    text = FENCES.sub("", path.read_text())
    targets = re.findall(r"\]\(<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\)", text)  # [text](target "title")
    return [tuple(t.partition("#")[::2]) for t in targets if not re.match(r"[a-z]+:", t)]


def _anchors(path):
    """The anchors GitHub makes of a Markdown file's ATX headings: the text as shown (a link's text, no closing #s),
    lower case, punctuation but '-' and '_' dropped, spaces -> '-', and -1, -2 ... after a repeated one."""
    text = FENCES.sub("", path.read_text())
    seen: dict[str, int] = {}
    for heading in re.findall(r"^#{1,6} (.+?)(?: #+)?$", text, flags=re.M):
        shown = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip())
        slug = re.sub(r"[^\w\- ]", "", shown.lower()).replace(" ", "-")
        seen[slug] = seen.get(slug, -1) + 1
    return {f"{slug}-{k}" if k else slug for slug, n in seen.items() for k in range(n + 1)}


def test_every_relative_link_in_the_readme_and_docs_resolves_to_a_file_and_its_heading():
    pages = [REPO / "README.md", REPO / "outputs" / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    assert len(pages) > 2, "docs/ holds the manual"
    broken = []
    for page in pages:
        for file, anchor in _links(page):
            target = (page.parent / file) if file else page
            if not target.exists() or (anchor and target.suffix == ".md" and anchor not in _anchors(target)):
                broken.append(f"{page.relative_to(REPO)} -> {file}#{anchor}")
    assert not broken, broken
    assert any(f.startswith("docs/") for f, _ in _links(REPO / "README.md")), "the README links into docs/"
