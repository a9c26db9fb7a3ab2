"""The notebook runner behind ./run_all.sh: input checks, parameter injection, records, failures."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import subprocess
from pathlib import Path

import nbformat
import pytest
import yaml

from gdlib import parameters, runner
from gdlib.paths import REPO
from gdlib.results import commit
from gdlib.runner import RunResult, UsageError, main, merge_parameters, plan_runs, record_run

PAPER_NOTEBOOKS = ("01_datasets", "02_training", "03_representation", "04_torus_geometry",
                   "05_composition", "06_sample_efficiency", "07_percolation")


def write_notebook(path: Path, parameters: str, *cells: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "gdlib", "display_name": "Python (gdlib)", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.cells = [nbformat.v4.new_code_cell(parameters, metadata={"tags": ["parameters"]})]
    nb.cells += [nbformat.v4.new_code_cell(source) for source in cells]
    nbformat.write(nb, path)
    return path


RUNNER_PARAMS = 'PROFILE = "full"\nOUTPUT_DIR = ""\nINTERACTIVE = True\n'


def make_project(root: Path) -> Path:
    """Three throwaway notebooks and two profiles; 02 raises in its third cell."""
    notebooks = root / "notebooks"
    (notebooks / "profiles").mkdir(parents=True)
    write_notebook(
        notebooks / "01_alpha.ipynb",
        RUNNER_PARAMS + 'STEPS = 100\nSEED = 0\nNAME = "alpha"\nSIZES = [8, 16]\nFLAG = True\n',
        "import json, pathlib\n"
        "seen = dict(PROFILE=PROFILE, OUTPUT_DIR=OUTPUT_DIR, INTERACTIVE=INTERACTIVE,\n"
        "            STEPS=STEPS, SEED=SEED)\n"
        "pathlib.Path(OUTPUT_DIR, 'seen_01.json').write_text(json.dumps(seen))",
        "from gdlib.claims import ClaimLog\nfrom gdlib.paths import set_outputs\nset_outputs(OUTPUT_DIR)\n"
        "ClaimLog('01_alpha', PROFILE).exact('T1', 'the throwaway notebook ran', 'it ran', f'STEPS = {STEPS}', True)",
    )
    write_notebook(notebooks / "02_boom.ipynb", RUNNER_PARAMS + "LR = 0.1\n",
                   "x = 1", "raise ValueError('boom at step 3')", "y = 2")
    write_notebook(notebooks / "03_after.ipynb", RUNNER_PARAMS,
                   "import pathlib\npathlib.Path(OUTPUT_DIR, 'seen_03').touch()")
    (notebooks / "03_readme.md").write_text("not a notebook")
    (notebooks / "profiles" / "smoke.yaml").write_text(yaml.safe_dump(
        {"common": {"SEED": 7, "LR_SCHEDULE": "cosine"}, "01_alpha": {"STEPS": 3}, "02_boom": None}))
    (notebooks / "profiles" / "quick.yaml").write_text("01_alpha: {STEPS: 30}\n")
    return notebooks


@pytest.fixture
def project(tmp_path):
    return make_project(tmp_path)


def run_main(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


# --- bad input stops before any work ----------------------------------------------------------

BAD_INPUTS = {
    "unknown_profile": (["--profile", "huge"], ["unknown profile 'huge'", "quick, smoke"]),
    "unknown_notebook_number": (["--only", "01,09"], ["09", "allowed are 01, 02, 03"]),
    "parameter_without_value": (["-p", "STEPS"], ["-p takes a NAME and a VALUE"]),
    "parameter_name_not_identifier": (["-p", "2x", "1"], ["identifier", "01_alpha: FLAG, NAME, SEED, SIZES, STEPS"]),
    "parameter_of_no_notebook": (["-p", "NOPE", "1"],
                                 ["'NOPE'", "01_alpha: FLAG, NAME, SEED, SIZES, STEPS", "02_boom: LR"]),
    "parameter_of_unselected_notebook": (["--only", "02", "-p", "STEPS", "1"], ["'STEPS'", "02_boom: LR"]),
    "parameter_value_not_yaml": (["-p", "STEPS", "[1,"], ["YAML"]),
    "profile_parameter_set_with_p": (["-p", "PROFILE", "full"], ["--profile"]),
    "unregistered_kernel": (["--kernel", "no-such-kernel"], ["'no-such-kernel' is not registered", "gdlib"]),
}


@pytest.mark.parametrize("argv, expected", BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
def test_bad_input_stops_before_any_work_and_lists_allowed(project, tmp_path, argv, expected):
    out = tmp_path / "out"
    code, stdout, stderr = run_main(["--notebooks-dir", project, "--output-dir", out, "--profile", "smoke",
                                     *argv])
    assert code == 2
    for text in expected:
        assert text in stderr
    assert not out.exists()
    assert "Running" not in stdout


def test_tests_flag_after_other_options_is_refused(project, tmp_path):
    code, _, stderr = run_main(["--notebooks-dir", project, "--output-dir", tmp_path / "out", "--tests"])
    assert code == 2 and "--tests must come first" in stderr


def test_missing_gdlib_kernel_says_how_to_register_it(monkeypatch):
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    def missing(self, name):
        raise NoSuchKernel(name)

    monkeypatch.setattr(KernelSpecManager, "get_kernel_spec", missing)
    with pytest.raises(UsageError, match="ipykernel install --sys-prefix --name gdlib"):
        runner.check_kernel("gdlib")


def test_dry_run_reads_p_values_by_each_notebooks_types_and_injects_only_declared_names(project, tmp_path):
    out = tmp_path / "out"
    code, stdout, _ = run_main(["--notebooks-dir", project, "--output-dir", out, "--profile", "smoke",
                                "--dry-run", "-p", "STEPS", "1e3", "-p", "LR", "-1e-3", "-p", "NAME", "yes",
                                "-p", "SIZES", "[4, 8]", "-p", "FLAG", "no"])
    assert code == 0 and not out.exists()
    lines = dict(line.split(": ", 1) for line in stdout.splitlines())
    assert "'STEPS': 1000" in lines["01_alpha"] and "'SEED': 7" in lines["01_alpha"]
    assert "'NAME': 'yes'" in lines["01_alpha"]  # text stays text: not YAML's True
    assert "'SIZES': [4, 8]" in lines["01_alpha"] and "'FLAG': False" in lines["01_alpha"]
    assert "'LR': -0.001" in lines["02_boom"]  # a negative number in scientific notation is a value, not an option
    assert "LR_SCHEDULE" not in stdout and "STEPS" not in lines["02_boom"]


def dry_run(project, tmp_path, *argv):
    return run_main(["--notebooks-dir", project, "--output-dir", tmp_path / "out", "--profile", "smoke",
                     "--dry-run", *argv])


def test_ints_given_to_float_parameters_arrive_as_floats(project, tmp_path):
    # -p MARGIN 6 must hash like the profile's 6.0 (gdlib.keys)
    code, stdout, _ = dry_run(project, tmp_path, "-p", "LR", "6", "-p", "SIZES", "16")
    assert code == 0 and "'LR': 6.0" in stdout and "'SIZES': 16" in stdout  # one element stands for a list


BAD_TYPES = {
    "text_for_an_integer": (["-p", "STEPS", "abc"],
                            "-p STEPS: STEPS = 'abc' is not allowed: 01_alpha declares STEPS = 100, so it must be an "
                            "integer"),
    "fraction_for_an_integer": (["-p", "STEPS", "2.5"], "STEPS = '2.5' is not allowed"),
    "bool_for_a_number": (["-p", "LR", "true"], "02_boom declares LR = 0.1, so it must be a number"),
    "text_in_a_list_of_integers": (["-p", "SIZES", "[4, x]"], "so it must be a list of integers"),
    "number_for_a_bool": (["-p", "FLAG", "3"], "so it must be true or false"),
    "not_yaml": (["-p", "SIZES", "[1,"], "not valid YAML"),
}


@pytest.mark.parametrize("argv, message", BAD_TYPES.values(), ids=BAD_TYPES.keys())
def test_a_value_of_the_wrong_type_stops_the_run_before_anything_runs(project, tmp_path, argv, message):
    code, stdout, stderr = dry_run(project, tmp_path, *argv)
    assert code == 2 and message in stderr and stdout == ""
    assert len(stderr.strip().splitlines()) == 1


def test_a_profile_value_of_the_wrong_type_names_the_profile(project, tmp_path):
    (project / "profiles" / "smoke.yaml").write_text("01_alpha: {NAME: yes}\n")
    code, _, stderr = dry_run(project, tmp_path)
    assert code == 2
    assert "profile 'smoke': NAME = True is not allowed: 01_alpha declares NAME = 'alpha', so it must be text " \
           "(YAML reads yes/no/on/off as booleans: quote the text" in stderr


@pytest.mark.parametrize("dry", [True, False], ids=["dry_run", "run"])
def test_an_output_folder_that_cannot_be_written_exits_2_with_one_line(project, tmp_path, dry):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    code, stdout, stderr = run_main(["--notebooks-dir", project, "--output-dir", blocker / "out", "--profile",
                                     "smoke", *(["--dry-run"] if dry else [])])
    assert code == 2 and stdout == ""
    assert stderr == f"run_all.sh: error: --output-dir {blocker / 'out'}: {blocker} is not a folder\n"


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
def test_a_folder_the_permission_bits_allow_but_that_refuses_writes_is_caught_under_dry_run(project, tmp_path):
    # as root, os.access says /proc is writable; creating anything there fails
    code, _, stderr = run_main(["--notebooks-dir", project, "--output-dir", "/proc/gdlib-out", "--profile", "smoke",
                                "--dry-run"])
    assert code == 2 and stderr.startswith("run_all.sh: error: --output-dir /proc/gdlib-out: /proc is not writable")
    assert len(stderr.splitlines()) == 1


def test_an_output_folder_that_cannot_be_created_exits_2_with_one_line(project, tmp_path, monkeypatch):
    # os.access says yes to root for any folder, so a refused mkdir is also caught (one line, no traceback)
    real_mkdir = Path.mkdir

    def refused(self, *args, **kwargs):
        if self.name == "out":
            raise PermissionError(13, "Permission denied")
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", refused)
    code, _, stderr = run_main(["--notebooks-dir", project, "--output-dir", tmp_path / "out", "--profile", "smoke"])
    assert code == 2 and stderr == f"run_all.sh: error: --output-dir {tmp_path / 'out'}: Permission denied\n"


def test_parameters_merge_common_then_section_then_runner_then_overrides():
    sections = {"common": {"A": 1, "B": 1, "PROFILE": "x"}, "01_a": {"B": 2, "C": 2}}
    got = merge_parameters(sections, "01_a", ["A", "B", "C", "PROFILE", "OUTPUT_DIR", "INTERACTIVE"],
                           "smoke", "/tmp/o", {"C": 3})
    assert got == {"A": 1, "B": 2, "C": 3, "PROFILE": "smoke", "OUTPUT_DIR": str(Path("/tmp/o").resolve()),
                   "INTERACTIVE": False}
    assert merge_parameters(sections, "02_b", ["B"], "smoke", "/tmp/o") == {"B": 1}


def test_plan_selects_by_number_in_notebook_order(project, tmp_path):
    jobs = plan_runs("quick", "03,01", output_dir=tmp_path / "out", notebooks_dir=project)
    assert [job.stem for job in jobs] == ["01_alpha", "03_after"]
    assert jobs[0].parameters["STEPS"] == 30 and "SEED" not in jobs[0].parameters
    assert not (tmp_path / "out").exists()


def test_runs_csv_keeps_one_row_per_notebook_and_profile(tmp_path):
    for wall in (1.0, 2.0):
        record_run(tmp_path, RunResult("01_a", "smoke", "ok", wall, 50.0, None))
    record_run(tmp_path, RunResult("01_a", "quick", "failed", 3.0, None, None))
    with (tmp_path / "runs.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [tuple(r.values()) [:5] for r in rows] == [("01_a", "quick", "failed", "3.00", ""),
                                                       ("01_a", "smoke", "ok", "2.00", "50.0")]
    assert list(rows[0]) == list(runner.RUNS_COLUMNS)
    assert {r["commit"] for r in rows} == {commit()}  # the code each notebook ran with (results' snapshot)
    record_run(tmp_path, RunResult("02_b", "quick", "ok", 1.0, None, None, commit="started-at"))
    with (tmp_path / "runs.csv").open() as fh:
        assert {r["notebook"]: r["commit"] for r in csv.DictReader(fh)}["02_b"] == "started-at"


# --- a real run: 01 succeeds, 02 raises, 03 must not start ---------------------------------------

@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("run")
    notebooks = make_project(root)
    out = root / "out"
    code, stdout, stderr = run_main(["--notebooks-dir", notebooks, "--output-dir", out, "--profile", "smoke",
                                     "-p", "STEPS", "5"])
    return dict(code=code, stdout=stdout, stderr=stderr, out=out)


@pytest.mark.slow
def test_profile_and_override_parameters_reach_the_notebook(full_run):
    seen = json.loads((full_run["out"] / "seen_01.json").read_text())
    assert seen == {"PROFILE": "smoke", "OUTPUT_DIR": str(full_run["out"].resolve()), "INTERACTIVE": False,
                    "STEPS": 5, "SEED": 7}


@pytest.mark.slow
def test_executed_notebook_lands_in_outputs_with_injected_parameters(full_run):
    folder = full_run["out"] / "notebooks"
    nb = nbformat.read(folder / "01_alpha.ipynb", as_version=4)
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and "STEPS = 5" in injected[0].source
    assert all(c.execution_count for c in nb.cells if c.cell_type == "code")
    assert not [p.name for p in folder.iterdir() if "partial" in p.name]


@pytest.mark.slow
def test_runs_csv_records_wall_time_and_peak_memory_of_each_notebook(full_run):
    with (full_run["out"] / "runs.csv").open() as fh:
        rows = {r["notebook"]: r for r in csv.DictReader(fh)}
    assert set(rows) == {"01_alpha", "02_boom"}
    assert rows["01_alpha"]["status"] == "ok" and rows["02_boom"]["status"] == "failed"
    for row in rows.values():
        assert row["profile"] == "smoke" and float(row["wall_s"]) > 0
        # the kernel is a whole Python interpreter: tens of MiB at least, far below 4 GiB here
        assert 10 < float(row["peak_mib"]) < 4096


@pytest.mark.slow
def test_failing_notebook_is_named_with_its_cell_and_stops_the_run(full_run):
    assert full_run["code"] == 1
    stderr = full_run["stderr"]
    assert "02_boom" in stderr and "ValueError: boom at step 3" in stderr
    assert "raise ValueError('boom at step 3')" in stderr and "In [" in stderr
    folder = full_run["out"] / "notebooks"
    assert (folder / "02_boom.failed.ipynb").exists() and not (folder / "02_boom.ipynb").exists()
    failed = nbformat.read(folder / "02_boom.failed.ipynb", as_version=4)
    assert any(o.get("ename") == "ValueError" for c in failed.cells for o in c.get("outputs", []))
    assert not (full_run["out"] / "seen_03").exists() and not (folder / "03_after.ipynb").exists()


@pytest.mark.slow
def test_report_is_assembled_even_when_a_notebook_fails(full_run):
    report = (full_run["out"] / "REPORT.md").read_text()
    assert "T1" in report and "the throwaway notebook ran" in report
    assert "02_boom" in report and "failed" in report
    assert f"Report: {full_run['out'].resolve() / 'REPORT.md'}" in full_run["stdout"]


# --- the committed profiles and scripts ---------------------------------------------------------

def test_committed_profiles_cover_every_notebook_and_set_only_declared_parameters():
    assert runner.available_profiles() == ["extended", "full", "gpu-check", "quick", "smoke"]
    notebooks = {path.stem: path for path in runner.discover_notebooks().values()}
    declared = {stem: parameters.declared(path) for stem, path in notebooks.items()}
    for profile in ("smoke", "quick", "extended", "full", "gpu-check"):
        sections = runner.load_profile(profile)
        assert set(PAPER_NOTEBOOKS) <= set(sections) <= set(PAPER_NOTEBOOKS) | {"common"}, profile
        for stem, values in sections.items():
            if stem in notebooks:
                undeclared = set(values) - set(declared[stem])
                assert not undeclared, f"{profile}.yaml sets {sorted(undeclared)}, not parameters of {stem}"
                for name, value in values.items():  # a value of another type than the default fails here
                    parameters.check(name, value, declared[stem][name], stem, f"{profile}.yaml")
        common = set(sections.get("common", {}))
        assert all(any(name in d for d in declared.values()) for name in common), f"{profile}.yaml common: {common}"


def test_run_all_ci_and_the_cluster_script_are_executable_bash_within_the_repository():
    for script in (REPO / "run_all.sh", REPO / ".ci" / "run", REPO / "scripts" / "slurm-local.sh"):
        assert os.access(script, os.X_OK), f"{script} is not executable"
        assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
        assert "shared/" not in script.read_text()  # a user has the repository only
    ci = (REPO / ".ci" / "run").read_text()
    assert ci.rstrip().endswith("./run_all.sh --tests") and "scripts/slurm-local.sh start" in ci
    assert 'exec "$PY" -m gdlib.runner "$@"' in (REPO / "run_all.sh").read_text()
