"""The Mesa model of a static market: shares, concentration, the Bertrand first-order condition,
Ord's arithmetic and determinism (docs/ODD.md §7)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from aimarket.experiments.cli import main as cli_main
from aimarket.simulation import laws
from aimarket.simulation.model import MarketModel
from aimarket.simulation.outputs import write_outputs
from aimarket.simulation.run import simulate
from aimarket.simulation.scenario.loading import load_scenario

ROOT = Path(__file__).resolve().parents[1]
STATIC = ROOT / "scenarios" / "static_homogeneous.toml"
SMALL = {"users.count": 900, "run.steps": 6}


@pytest.fixture(scope="module")
def static_run(tmp_path_factory):
    """The homogeneous static market, run through the command line into labs.parquet."""
    out = tmp_path_factory.mktemp("static")
    assert cli_main(["run", str(STATIC), "--out", str(out), "--quiet"]) == 0
    return out


def test_static_market_satisfies_logit_bertrand_foc(static_run):
    """Homogeneous users: p - mc = mu / (1 - s) for every lab, task type and step, to 1e-8 relative."""
    scenario = load_scenario(STATIC)
    labs = pq.read_table(static_run / "labs.parquet").to_pylist()
    mu = {t.name: scenario.users.logit_scale * t.value for t in scenario.tasks}
    assert len(labs) == scenario.run.steps * len(scenario.labs.roster) * len(scenario.tasks)
    for row in labs:
        markup = row["price"] - row["marginal_cost"]
        expected = mu[row["task"]] / (1.0 - row["share"])
        assert math.isclose(markup, expected, rel_tol=1e-8), row


def test_static_strategy_keeps_k_and_model(static_run):
    scenario = load_scenario(STATIC)
    labs = pq.read_table(static_run / "labs.parquet").to_pylist()
    fixed = {lab.name: lab.k for lab in scenario.labs.roster}
    for row in labs:
        assert row["k"] == fixed[row["name"]][row["task"]]
        assert row["lab_training_spend"] == 0.0


def test_choice_probabilities_sum_to_one_for_every_user():
    model = MarketModel(load_scenario(None, SMALL))
    model.step()
    for market in model.markets:
        prob, _ = market.choice_probabilities()
        assert np.all((prob >= 0) & (prob <= 1))
        np.testing.assert_allclose(prob.sum(axis=1), 1.0, atol=1e-12)


def test_hhi_between_one_over_n_and_one():
    result = simulate(load_scenario(None, SMALL))
    ts = result.timeseries.to_pylist()
    labs = result.labs.to_pylist()
    for row in ts:
        earning = {r["name"] for r in labs if r["step"] == row["step"] and r["lab_revenue"] > 0}
        assert 1.0 / len(earning) - 1e-12 <= row["hhi"] <= 1.0 + 1e-12
        assert row["hhi"] <= row["cr4"] + 1e-12


def test_shares_and_outside_option_sum_to_one_per_task():
    result = simulate(load_scenario(None, SMALL))
    labs = result.labs.to_pylist()
    for row in result.timeseries.to_pylist():
        for task in ("chat", "reasoning", "agentic"):
            lab_share = sum(r["share"] for r in labs if r["step"] == row["step"] and r["task"] == task)
            total = lab_share + row[f"outside_share_{task}"] + row[f"selfhost_share_{task}"]
            assert math.isclose(total, 1.0, rel_tol=1e-9)


def test_ord_arithmetic():
    """2 OOM more inference at alpha 0.7 is worth 1.4 eOOM (in the unsaturated limit); 100x inference
    per task means 1/100 as many simultaneous copies from a fixed fleet."""
    assert math.isclose(laws.inference_gain(100.0, 0.7, 1e9), 1.4, rel_tol=1e-8)
    slope = (laws.inference_gain(10 ** 1e-6, 0.7, 3.0) - 0.0) / 1e-6
    assert math.isclose(slope, 0.7, rel_tol=1e-5)
    assert laws.inference_gain(1e6, 0.7, 3.0) < 0.7 * 3.0  # saturates below alpha * kappa
    active = laws.active_parameters(1e25, 0.25)
    copies = laws.served_copies(1e18, active, 1.0, 50.0)
    assert math.isclose(laws.served_copies(1e18, active, 100.0, 50.0), copies / 100, rel_tol=1e-12)


def test_data_wall_and_costs():
    assert laws.pretraining_eoom(1e26, 1.0, 26.5, 0.3) == pytest.approx(26.0)
    assert laws.pretraining_eoom(1e28, 1.0, 26.5, 0.3) == pytest.approx(26.5 + 0.3 * 1.5)
    assert laws.pretraining_eoom(1e28, 100.0, 26.5, 0.3) == pytest.approx(2.0 + 26.5 + 0.3 * 1.5)  # A untaxed
    n = 0.25 * math.sqrt(1.2e25 / 120)
    assert laws.active_parameters(1.2e25, 0.25) == pytest.approx(n, rel=1e-12)
    assert laws.marginal_cost_per_task(n, 1e3, 10.0, 2e17) == pytest.approx(2 * n * 1e3 * 10 / 2e17, rel=1e-12)
    assert laws.success_probability(26.0, 26.0, 0.7) == 0.5


def test_same_seed_gives_byte_identical_files(tmp_path):
    scenario = load_scenario(None, SMALL)
    for name in ("a", "b"):
        write_outputs(simulate(scenario), tmp_path / name, plot=False)
    for file in ("timeseries.parquet", "labs.parquet", "summary.json"):
        assert (tmp_path / "a" / file).read_bytes() == (tmp_path / "b" / file).read_bytes()
    write_outputs(simulate(scenario, seed=scenario.run.seed + 1), tmp_path / "c", plot=False)
    assert (tmp_path / "a" / "labs.parquet").read_bytes() != (tmp_path / "c" / "labs.parquet").read_bytes()


def test_same_seed_identical_across_processes(tmp_path):
    """A run in a fresh interpreter writes the same bytes as one in this process."""
    scenario = load_scenario(None, SMALL)
    write_outputs(simulate(scenario), tmp_path / "here", plot=False)
    sets = [arg for key, value in SMALL.items() for arg in ("--set", f"{key}={value}")]
    subprocess.run([sys.executable, "-m", "aimarket.experiments.cli", "run", "--out", str(tmp_path / "there"), "--quiet",
                    *sets], check=True, cwd=ROOT, capture_output=True)
    for file in ("timeseries.parquet", "labs.parquet"):
        assert (tmp_path / "here" / file).read_bytes() == (tmp_path / "there" / file).read_bytes()
    here = json.loads((tmp_path / "here" / "summary.json").read_text())
    there = json.loads((tmp_path / "there" / "summary.json").read_text())
    assert here == there


def test_run_writes_every_output(static_run):
    for file in ("timeseries.parquet", "labs.parquet", "summary.json", "overview.png"):
        assert (static_run / file).stat().st_size > 0
    summary = json.loads((static_run / "summary.json").read_text())
    assert summary["scenario"]["labs"]["br_max_rounds"] == 200
    assert len(summary["scenario_hash"]) == 64
