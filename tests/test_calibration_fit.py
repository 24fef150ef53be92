"""Fitting: simulate with a known truth, check the fit recovers it; the calibrated TOML; the command."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime

import pandas as pd
import pytest

from aimarket.experiments.calibration import calibrate, calibrated_toml, fit, parse_fit_option, resolve_targets
from aimarket.experiments.calibration.targets import parse_targets
from aimarket.experiments.cli import main
from aimarket.simulation.errors import ScenarioError, UserInputError
from aimarket.simulation.scenario.loading import DEFAULT_SCENARIO, load_scenario
from aimarket.simulation.scenario.overrides import apply_overrides
from aimarket.simulation.scenario.schema import scenario_hash
from tests.calibration_helpers import synthetic_result

TRUTH = {"users.logit_scale": 0.35, "tasks.reasoning.tasks_per_step": 3e9}
WHEN = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)


def known_run(calls: list | None = None):
    """A run function whose outputs are exact, smooth functions of two scenario parameters."""

    def run_fn(scenario, seed, steps):
        if calls is not None:
            calls.append(seed)
        a = scenario.users.logit_scale
        b = next(t for t in scenario.tasks if t.name == "reasoning").tasks_per_step
        revenue = [1e9 * a * a / (1 + a) * (1 + 0.1 * s) for s in range(steps)]
        price = [0.2 * math.sqrt(b / 1e9) * a ** -0.3] * steps
        return synthetic_result(scenario, steps, revenue={"OpenAI": revenue}, timeseries={"price_reasoning": price})

    return run_fn


def rows_at_truth(base, quantities=("lab_revenue:OpenAI:2025", "price:reasoning:2025")):
    """Targets whose values are the known run's outputs at TRUTH (tolerance 2)."""
    truth = apply_overrides(base, TRUTH)
    raw = [{"what": q, "quantity": q, "value": 1.0, "tolerance": 2.0, "source": "known truth"} for q in quantities]
    targets = resolve_targets(parse_targets({"target": raw}, "t.toml"), base)
    result = known_run()(truth, 0, 5)
    raw = [dict(r, value=t.quantity.value(result)) for r, t in zip(raw, targets, strict=True)]
    return parse_targets({"target": raw}, "t.toml")


@pytest.fixture(scope="module")
def base():
    # the values the tests read are pinned, so that recalibrating scenarios/default.toml changes nothing here
    return load_scenario(None, {"users.count": 60, "users.logit_scale": 0.2, "tasks.reasoning.tasks_per_step": 1e9,
                                "entry.cost": 1e8, "tasks.agentic.value": 800.0})


def test_fit_recovers_the_known_truth(base):
    targets = resolve_targets(rows_at_truth(base), base)
    parameters = [parse_fit_option(key, base) for key in TRUTH]
    assert [p.start for p in parameters] == [0.2, 1e9]
    calls = []
    result = fit(base, targets, parameters, seed=11, steps=5, run_fn=known_run(calls))
    for key, value in zip(TRUTH, result.values, strict=True):
        assert value == pytest.approx(TRUTH[key], rel=1e-6)
    assert all(row.factor == pytest.approx(1.0, abs=1e-6) for row in result.rows)
    assert set(calls) == {11} and result.evaluations == len(calls) <= 60
    assert result.scenario.users.logit_scale == result.values[0]


def test_bounds_hold_and_the_cap_on_evaluations_is_kept(base):
    targets = resolve_targets(rows_at_truth(base, ("lab_revenue:OpenAI:2025",)), base)
    bounded = fit(base, targets, [parse_fit_option("users.logit_scale=0.1:0.3", base)], seed=1, steps=4,
                  run_fn=known_run())
    assert bounded.values[0] == pytest.approx(0.3, rel=1e-6) and not bounded.rows[0].factor == pytest.approx(1.0)
    calls = []
    capped = fit(base, targets, [parse_fit_option("users.logit_scale", base)], seed=1, steps=4,
                 run_fn=known_run(calls), max_evals=3)
    assert len(calls) == capped.evaluations == 3 and "cap of 3 evaluations" in capped.message


@pytest.mark.parametrize("option, error, fragment", [
    ("users.logit_scal", ScenarioError, "did you mean 'users.logit_scale'?"),
    ("users.count", UserInputError, "must name a real-valued parameter (it is an integer: 60)"),
    ("tasks.reasoning", UserInputError, "must name a real-valued parameter (it is dict"),
    ("users.logit_scale=1:10", UserInputError, "the scenario's value 0.2 is outside the bounds"),
    ("users.logit_scale=0.3", UserInputError, "bounds must be written LOW:HIGH"),
    ("users.logit_scale=-1:2", UserInputError, "bounds must be positive numbers"),
    ("users.logit_scale=0.5:0.1", UserInputError, "LOW must be below HIGH"),
    ("entry.cost", None, 1e8),
    ("labs.roster.Google DeepMind.cash", None, 3e10),
    ("tasks.agentic.value=100:1000", None, 800.0),
])
def test_fit_options(base, option, error, fragment):
    if error is None:
        assert parse_fit_option(option, base).start == fragment
        return
    with pytest.raises(error) as info:
        parse_fit_option(option, base)
    assert fragment in str(info.value)
    with pytest.raises(UserInputError, match="must be > 0 to fit its logarithm"):
        parse_fit_option("labs.opex", apply_overrides(base, {"labs.opex": 0.0}))


def test_a_parameter_fitted_twice_is_an_error(base):
    parameters = [parse_fit_option("users.logit_scale", base), parse_fit_option("users.logit_scale=0.1:1", base)]
    with pytest.raises(UserInputError, match="--fit users.logit_scale: given more than once"):
        fit(base, [], parameters, seed=1, steps=4, run_fn=known_run())


def test_calibrated_toml_loads_back_with_a_header(base, tmp_path):
    targets = resolve_targets(rows_at_truth(base), base)
    result = fit(base, targets, [parse_fit_option(key, base) for key in TRUTH], seed=3, steps=5, run_fn=known_run())
    text = calibrated_toml(result, base="scenarios/default.toml", targets_file="t.toml", seed=3, steps=5, when=WHEN)
    header = [line for line in text.splitlines() if line.startswith("#")]
    assert header[0] == "# Calibrated scenario: fitted by aimarket calibrate on 2026-12-01 20:00 UTC against t.toml rows"
    assert "#   lab_revenue:OpenAI:2025, price:reasoning:2025" in header
    fitted = [re.fullmatch(r"#   users.logit_scale: 0.2 -> (\S+)", line) for line in header]
    assert float(next(m for m in fitted if m).group(1)) == result.values[0] == pytest.approx(0.35, rel=1e-6)
    assert any(re.match(r"#   price:reasoning:2025: 1(\.0+)? \(tolerance 2, within\)", line) for line in header)
    path = tmp_path / "calibrated.toml"
    path.write_text("old contents\n")
    assert calibrate(base, scenario_label="default", targets_path=_targets_file(tmp_path, rows_at_truth(base)),
                     fit_options=list(TRUTH), out=path, run_fn=known_run(), quiet=True, now=WHEN) == 0
    loaded = load_scenario(path)
    assert loaded.users.logit_scale == pytest.approx(0.35, rel=1e-6)
    assert scenario_hash(loaded) in path.read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["calibrated.toml", "targets.toml"]  # no temporary left


def _targets_file(folder, rows):
    lines = []
    for row in rows:
        lines += ["[[target]]", f'what = "{row.what}"', f'quantity = "{row.quantity}"', f"value = {row.value!r}",
                  f"tolerance = {row.tolerance!r}", f'source = "{row.source}"', ""]
    path = folder / "targets.toml"
    path.write_text("\n".join(lines))
    return path


def test_calibrate_exit_status_follows_the_rows(base, tmp_path, capsys):
    rows = rows_at_truth(base)
    path = _targets_file(tmp_path, rows)
    at_truth = apply_overrides(base, TRUTH)
    assert calibrate(at_truth, scenario_label="t", targets_path=path, run_fn=known_run()) == 0
    out = capsys.readouterr().out
    assert "2 of 2 rows within tolerance" in out and "(seed 20250212, 4 steps)" in out
    assert calibrate(base, scenario_label="t", targets_path=path, run_fn=known_run()) == 1
    assert "OUTSIDE" in capsys.readouterr().out
    with pytest.raises(UserInputError, match="--out: only with --fit"):
        calibrate(base, scenario_label="t", targets_path=path, out=tmp_path / "x.toml", run_fn=known_run())


# --------------------------------------------------------------------------------------------------
# the command on the real model (a tiny scenario)
# --------------------------------------------------------------------------------------------------

TINY = f"""extends = {str(DEFAULT_SCENARIO)!r}
[users]
count = 240
[entry]
arrivals = 0.0
[[labs.roster]]
name = "Alpha"
training_flop = 1e26
cash = 1e10
[[labs.roster]]
name = "Beta"
training_flop = 2e25
cash = 1e10
open_weights = true
"""

WIDE = [("Alpha revenue", "lab_revenue:Alpha:2025", 1e9, 1e6), ("prices {task}", "price:*:2025", 1.0, 1e6),
        ("open gap", "open_gap_compute:2025", 5.0, 1.0001), ("growth", "frontier_compute_growth:2025:2026", 1.0, 1e6)]


def _write_targets(path, rows):
    text = "".join(f'[[target]]\nwhat = "{w}"\nquantity = "{q}"\nvalue = {v!r}\ntolerance = {t!r}\nsource = "test"\n\n'
                   for w, q, v, t in rows)
    path.write_text(text)
    return path


def _table(out: str) -> dict[str, list[str]]:
    """Quantity -> [model, target, factor off, tolerance, verdict] from the printed table (cells are
    separated by two or more spaces)."""
    cells = [re.split(r"\s{2,}", line.strip()) for line in out.splitlines()]
    return {c[1]: c[2:] for c in cells if len(c) == 7 and c[-1] in ("ok", "OUTSIDE")}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("calibrate")
    (folder / "tiny.toml").write_text(TINY)
    return folder


def test_calibrate_command_on_a_tiny_scenario(tiny, capsys):
    scenario = str(tiny / "tiny.toml")
    wide = _write_targets(tiny / "wide.toml", WIDE)
    assert main(["calibrate", scenario, "--targets", str(wide)]) == 0
    out = capsys.readouterr().out
    verdicts = {quantity: cells[-1] for quantity, cells in _table(out).items()}
    assert verdicts == {"lab_revenue:Alpha:2025": "ok", "price:chat:2025": "ok", "price:reasoning:2025": "ok",
                        "price:agentic:2025": "ok", "open_gap_compute:2025": "ok",
                        "frontier_compute_growth:2025:2026": "ok"}
    assert "(seed 20250212, 5 steps)" in out and "6 of 6 rows within tolerance" in out

    # the printed revenue is the labs table's, one row per step x lab
    from aimarket.simulation.run import simulate

    labs = simulate(load_scenario(scenario), steps=5).labs.to_pandas()
    revenue = labs[labs.step < 4].drop_duplicates(["step", "lab"]).query("name == 'Alpha'").lab_revenue.sum()
    assert float(_table(out)["lab_revenue:Alpha:2025"][0]) == pytest.approx(revenue, rel=1e-3)

    failing = _write_targets(tiny / "failing.toml", [*WIDE, ("too much", "roster_revenue:2025", 1e30, 2.0)])
    assert main(["calibrate", scenario, "--targets", str(failing), "--seed", "5"]) == 1
    out = capsys.readouterr().out
    assert _table(out)["roster_revenue:2025"][-1] == "OUTSIDE" and "6 of 7 rows within tolerance" in out
    assert "(seed 5, 5 steps)" in out


@pytest.mark.parametrize("args, fragment", [
    (["--steps", "3"], "--steps 3: target 'lab_revenue:Alpha:2025' needs at least 4 steps"),
    (["--out", "x.toml"], "--out: only with --fit"),
    (["--fit", "users.count"], "--fit users.count: must name a real-valued parameter"),
    (["--max-evals", "0"], "--max-evals: must be a positive integer"),
    (["--diff-step", "2"], "--diff-step: must be a number between 0 and 1"),
    (["--set", "users.logit_scale=-1"], "scenario field 'users.logit_scale'"),
])
def test_calibrate_bad_input_is_one_line_exit_2(tiny, capsys, args, fragment):
    wide = _write_targets(tiny / "wide.toml", WIDE)
    assert main(["calibrate", str(tiny / "tiny.toml"), "--targets", str(wide), *args]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("aimarket: error: ") and fragment in captured.err
    assert captured.err.count("\n") == 1 and captured.out == ""


def test_calibrate_fit_writes_a_loadable_scenario(tiny, capsys):
    wide = _write_targets(tiny / "fit.toml", [("Alpha revenue", "lab_revenue:Alpha:2025", 5e9, 2.0)])
    out = tiny / "calibrated.toml"
    status = main(["calibrate", str(tiny / "tiny.toml"), "--targets", str(wide), "--fit",
                   "users.logit_scale=0.05:2", "--max-evals", "3", "--out", str(out), "--quiet",
                   "--set", "labs.opex=4e8"])
    printed = capsys.readouterr().out
    assert status == (0 if _table(printed)["lab_revenue:Alpha:2025"][-1] == "ok" else 1)
    assert f"calibrated scenario: {out}" in printed
    text = out.read_text()
    assert text.startswith("# Calibrated scenario: fitted by aimarket calibrate on ")
    assert f"# Base scenario: {tiny / 'tiny.toml'} --set labs.opex=4e8; seed 20250212, 4 steps" in text
    loaded = load_scenario(out)
    assert [lab.name for lab in loaded.labs.roster] == ["Alpha", "Beta"] and loaded.users.count == 240
    assert loaded.labs.opex == 4e8
    fitted = float(re.search(r"users.logit_scale = ([0-9.e+-]+)", printed).group(1))
    assert loaded.users.logit_scale == pytest.approx(fitted, rel=1e-5)
    assert pd.notna(loaded.users.logit_scale)
