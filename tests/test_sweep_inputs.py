"""Bad experiment files give exit status 2 and one line; sensitivity analysis of small sweeps."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sweep_helpers import DEFAULT_SCENARIO, write_experiment

from aimarket import experiments
from aimarket.experiments.cli import main

SCEN = f'scenario = "{DEFAULT_SCENARIO.as_posix()}"\n'
OK = SCEN + 'root_seed = 1\n[factors]\n"users.value_sigma" = [0.1, 0.3]\n'

BAD = {
    "unknown top-level key": (SCEN + "root_seed = 1\nrepetitions = 2\n", "repetitions: unknown key"),
    "unknown factor": (SCEN + 'root_seed = 1\n[factors]\n"users.value_sigm" = [1, 2]\n', "users.value_sigm"),
    "unknown factor section": (SCEN + 'root_seed = 1\n[factors]\n"crowd.size" = [1, 2]\n', "crowd"),
    "empty range": (
        SCEN + 'root_seed = 1\n[sampler]\nn = 4\n[factors]\n"users.value_sigma" = {low = 2, high = 1}\n',
        "empty range",
    ),
    "unknown range key": (
        SCEN + "root_seed = 1\n[sampler]\nn = 4\n[factors]\n"
        '"users.value_sigma" = {low = 0, high = 1, lg = true}\n',
        "lg: unknown key",
    ),
    "wrong type replications": (
        SCEN + 'root_seed = 1\nreplications = "two"\n',
        "replications: must be an integer",
    ),
    "wrong type root_seed": (SCEN + "root_seed = 1.5\n", "root_seed: must be an integer"),
    "missing root_seed": (SCEN, "root_seed: missing"),
    "missing scenario": ("root_seed = 1\n", "scenario: missing"),
    "scenario not found": ('scenario = "nowhere.toml"\nroot_seed = 1\n', "not found"),
    "bad value for scenario": (SCEN + 'root_seed = 1\n[factors]\n"users.count" = [100, -1]\n', "users.count"),
    "wrong value type": (SCEN + 'root_seed = 1\n[factors]\n"users.count" = ["many", "few"]\n', "users.count"),
    "mixed list": (SCEN + 'root_seed = 1\n[factors]\n"users.count" = [100, "few"]\n', "one type"),
    "empty list": (SCEN + 'root_seed = 1\n[factors]\n"users.count" = []\n', "empty list"),
    "bad override": (SCEN + 'root_seed = 1\n[overrides]\n"users.countt" = 3\n', "users.countt"),
    "unknown method": (SCEN + 'root_seed = 1\n[sampler]\nmethod = "halton"\n', "sampler.method"),
    "unknown sampler key": (
        SCEN + 'root_seed = 1\n[sampler]\nmethod = "sobol"\nn = 4\nlevels = 3\n'
        '[factors]\n"users.value_sigma" = {low = 0, high = 1}\n',
        "sampler.levels",
    ),
    "range on grid": (
        SCEN + 'root_seed = 1\n[sampler]\nmethod = "grid"\n[factors]\n'
        '"users.value_sigma" = {low = 0, high = 1}\n',
        "needs a list",
    ),
    "sobol n not power of 2": (
        SCEN + 'root_seed = 1\n[sampler]\nmethod = "sobol"\nn = 6\n[factors]\n'
        '"users.value_sigma" = {low = 0, high = 1}\n',
        "power of 2",
    ),
    "missing n": (
        SCEN + 'root_seed = 1\n[factors]\n"users.value_sigma" = {low = 0, high = 1}\n',
        "sampler.n",
    ),
    "log of non-positive": (
        SCEN + "root_seed = 1\n[sampler]\nn = 4\n[factors]\n"
        '"users.value_sigma" = {low = 0, high = 1, log = true}\n',
        "log = true",
    ),
    "bad output": (SCEN + 'root_seed = 1\noutputs = ["everything"]\n', "outputs: unknown output"),
    "factor is seed": (SCEN + 'root_seed = 1\n[factors]\n"run.seed" = [1, 2]\n', "run.seed"),
    "not toml": ("root_seed = = 1\n", "not valid TOML"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_experiment_file_exit_2_one_line(case, tmp_path, capsys):
    text, expected = BAD[case]
    exp = tmp_path / "bad.toml"
    exp.write_text(text)
    out = tmp_path / "out"
    code = main(["sweep", str(exp), "--out", str(out), "--workers", "0", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and err.startswith("aimarket: error: "), err
    assert expected in err, err
    assert not out.exists()  # nothing written


def test_bad_command_line_values(tmp_path, capsys):
    exp = tmp_path / "ok.toml"
    exp.write_text(OK)
    assert main(["sweep", str(exp), "--out", str(tmp_path / "o"), "--workers", "two"]) == 2
    assert (
        main(["sweep", str(exp), "--out", str(tmp_path / "o"), "--scheduler", "a", "--scheduler-file", "b"])
        == 2
    )
    assert main(["sweep", str(tmp_path / "missing.toml"), "--out", str(tmp_path / "o")]) == 2
    errs = capsys.readouterr().err.strip().splitlines()
    assert len(errs) == 3 and all(e.startswith("aimarket: error:") for e in errs)


SOBOL = """root_seed = 3
steps = 3
outputs = ["summary"]
[sampler]
method = "sobol"
n = 4
[factors]
"users.value_sigma" = { low = 0.1, high = 0.4 }
"demand.market_scale" = { low = 0.1, high = 10, log = true }
"""


MORRIS = SOBOL.replace('method = "sobol"\nn = 4', 'method = "morris"\nn = 3\nlevels = 4')


def test_sobol_sweep_and_sensitivity(tmp_path, capsys):
    exp = write_experiment(tmp_path, SOBOL)
    out = tmp_path / "sobol"
    report = experiments.sweep(exp, out, workers=2, progress=False)
    assert report.n_runs == 4 * (2 + 2) and report.complete
    design = experiments.load(out).design
    assert design["demand.market_scale"].between(0.1, 10).all()

    assert main(["sensitivity", str(out), "--output", "final_hhi"]) == 0
    captured = capsys.readouterr()
    printed = captured.out
    assert "S1" in printed and "users.value_sigma" in printed
    assert f"files: {out / 'sensitivity' / 'sobol_final_hhi.csv'}, {out / 'sensitivity' / 'sobol_final_hhi.png'}" in printed
    computed = pd.read_csv(out / "sensitivity" / "sobol_final_hhi.csv")
    from aimarket.experiments.analysis.sensitivity import stability_warnings

    expected = stability_warnings(computed, "sobol", 4)
    assert [line for line in captured.err.splitlines() if "unstable" in line] == [
        f"aimarket: warning: {line}" for line in expected]
    table = pd.read_csv(out / "sensitivity" / "sobol_final_hhi.csv")
    assert list(table.columns) == ["output", "factor", "S1", "S1_conf", "ST", "ST_conf"]
    assert list(table["factor"]) == ["users.value_sigma", "demand.market_scale"]
    assert (out / "sensitivity" / "sobol_final_hhi.png").stat().st_size > 1000

    # wrong method for this sweep, unknown output: exit 2, one line
    assert main(["sensitivity", str(out), "--output", "final_hhi", "--method", "morris"]) == 2
    assert main(["sensitivity", str(out), "--output", "no_such_output", "--no-plot"]) == 2
    errs = capsys.readouterr().err.strip().splitlines()
    assert len(errs) == 2 and "sampler 'sobol'" in errs[0] and "no_such_output" in errs[1]


def test_sensitivity_warns_of_unstable_estimates():
    from aimarket.experiments.analysis.sensitivity import stability_warnings

    table = pd.DataFrame({"output": ["y", "y", "z"], "factor": ["a", "b", "a"], "S1": [1.2, 0.30, 0.5],
                          "S1_conf": [0.1, 0.05, 0.3], "ST": [0.9, 0.40, 0.6], "ST_conf": [0.1, 0.05, 0.1]})
    lines = stability_warnings(table, "sobol", 16)
    assert len(lines) == 2
    assert lines[0].startswith("y: unstable estimates (sampler.n = 16: increase it): S1 of a is 1.2 > 1")
    assert "of b" not in lines[0]  # 2 x 0.05 < 0.30 and < 0.40: stable
    assert lines[1] == "z: unstable estimates (sampler.n = 16: increase it): S1 of a is 0.5 with a confidence interval 0.6 wide"
    morris = pd.DataFrame({"output": ["y"], "factor": ["a"], "mu_star": [0.2], "mu_star_conf": [0.05],
                           "sigma": [0.1], "mu": [0.2]})
    assert stability_warnings(morris, "morris") == []


def test_morris_sweep_and_sensitivity(tmp_path):
    body = MORRIS
    exp = write_experiment(tmp_path, body)
    out = tmp_path / "morris"
    report = experiments.sweep(exp, out, workers=0, progress=False)
    assert report.n_runs == 3 * (2 + 1) and report.complete
    table = experiments.sensitivity(out, ["final_hhi"], plot=False)
    assert {"mu_star", "mu_star_conf", "sigma"} <= set(table.columns) and len(table) == 2
    assert (out / "sensitivity" / "morris_final_hhi.csv").exists()


def _salib_morris(res, y, rows=None):
    """SALib's Morris indices of ``y`` over the stored design of ``res`` (rows: the runs kept)."""
    from SALib.analyze import morris

    design = res.design.sort_values("run_id")
    factors = res.manifest["experiment"]["factors"]
    x = np.column_stack([np.log10(design[f["key"]]) if f.get("log") else design[f["key"]] for f in factors])
    bounds = [[math.log10(f["low"]), math.log10(f["high"])] if f.get("log") else [f["low"], f["high"]] for f in factors]
    problem = {"num_vars": len(factors), "names": [f["key"] for f in factors], "bounds": bounds}
    if rows is not None:
        x = x[rows]
    return morris.analyze(problem, x, y, num_resamples=100, conf_level=0.95, num_levels=4,
                          seed=res.manifest["sampler"]["seed"])


def test_morris_of_the_difference_between_two_sweeps_of_one_design(tmp_path, capsys):
    """--minus: the indices of y(A) - y(B) point by point, equal to SALib's on the difference computed
    here from the stored summaries; a sweep minus itself has no effects; another design is refused."""
    body = MORRIS
    a_dir, b_dir, other_dir = tmp_path / "a", tmp_path / "b", tmp_path / "other"
    a_dir.mkdir(), b_dir.mkdir(), other_dir.mkdir()
    experiments.sweep(write_experiment(a_dir, body), tmp_path / "A", workers=0, progress=False)
    experiments.sweep(write_experiment(b_dir, body.replace("steps = 3", "steps = 4")), tmp_path / "B", workers=0,
                      progress=False)
    experiments.sweep(write_experiment(other_dir, body.replace("root_seed = 3", "root_seed = 4")), tmp_path / "C",
                      workers=0, progress=False)
    table = experiments.sensitivity(tmp_path / "A", ["final_hhi"], plot=False, minus=tmp_path / "B")
    a, b = experiments.load(tmp_path / "A"), experiments.load(tmp_path / "B")
    y = (a.summary.sort_values("run_id")["final_hhi"].to_numpy() - b.summary.sort_values("run_id")["final_hhi"].to_numpy())
    assert np.any(y != 0)
    expected = _salib_morris(a, y)
    np.testing.assert_allclose(table["mu_star"], expected["mu_star"], rtol=1e-12)
    np.testing.assert_allclose(table["sigma"], expected["sigma"], rtol=1e-12)
    assert (tmp_path / "A" / "sensitivity" / "morris_final_hhi_minus_B.csv").exists()
    itself = experiments.sensitivity(tmp_path / "A", ["final_hhi"], plot=False, minus=tmp_path / "A")
    assert (itself["mu_star"] == 0).all()
    assert main(["sensitivity", str(tmp_path / "A"), "--output", "final_hhi", "--minus", str(tmp_path / "C"),
                 "--no-plot"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--minus" in err[0] and "differ" in err[0]


def test_morris_leaves_out_only_the_trajectories_with_a_failed_run(tmp_path, capsys):
    """--drop-incomplete: a run that is not done takes out its own trajectory (factors + 1 points) and
    no other; the indices equal SALib's on the complete trajectories; without the flag, exit 2."""
    import shutil

    body = MORRIS
    out = tmp_path / "m"
    experiments.sweep(write_experiment(tmp_path, body), out, workers=0, progress=False)
    res = experiments.load(out)
    y_all = res.summary.sort_values("run_id")["final_hhi"].to_numpy()
    shutil.rmtree(out / "runs" / "run_id=00004")  # trajectory 1 holds points 3, 4, 5
    assert main(["sensitivity", str(out), "--output", "final_hhi", "--no-plot"]) == 2
    assert "--drop-incomplete" in capsys.readouterr().err
    table = experiments.sensitivity(out, ["final_hhi"], plot=False, drop_incomplete=True)
    assert table.attrs["dropped_trajectories"] == [1]
    assert table.attrs["warnings"][0].startswith("left out Morris trajectories [1] of 3")
    keep = [0, 1, 2, 6, 7, 8]
    expected = _salib_morris(res, y_all[keep], rows=keep)
    np.testing.assert_allclose(table["mu_star"], expected["mu_star"], rtol=1e-12)


def test_lhs_design_within_ranges_and_reproducible(tmp_path):
    from aimarket.experiments.sweeps.design import build_runs
    from aimarket.experiments.sweeps.spec import read_experiment

    body = (
        'root_seed = 9\n[sampler]\nmethod = "lhs"\nn = 10\n[factors]\n'
        '"users.value_sigma" = { low = 0.5, high = 1.5 }\n"labs.exit_after" = { low = 1, high = 9, integer = true }\n'
    )
    exp = read_experiment(write_experiment(tmp_path, body))
    runs = build_runs(exp)
    assert runs == build_runs(exp) and len(runs) == 10
    sig = sorted(r.values["users.value_sigma"] for r in runs)
    assert all(0.5 + 0.1 * i <= s <= 0.5 + 0.1 * (i + 1) for i, s in enumerate(sig))  # one per stratum
    assert all(isinstance(r.values["labs.exit_after"], int) for r in runs)


def test_sensitivity_refuses_grid_sweep(tmp_path, capsys):
    exp = tmp_path / "ok.toml"
    exp.write_text(OK + '[overrides]\n"users.count" = 300\n"run.steps" = 2\n')
    out = tmp_path / "grid"
    assert main(["sweep", str(exp), "--out", str(out), "--workers", "0", "--quiet"]) == 0
    assert main(["sensitivity", str(out), "--output", "final_hhi"]) == 2
    assert "sampler 'grid'" in capsys.readouterr().err
