"""Version-2 economics: brand terms solved from observed shares, equilibrium to a tolerance, the latency
limit, the data wall on raw compute, entrants' names and the scenario errors of the new settings."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

from aimarket.simulation import laws
from aimarket.simulation.errors import ScenarioError
from aimarket.simulation.market import latency_limit
from aimarket.simulation.model import MarketModel
from aimarket.simulation.run import simulate
from aimarket.simulation.scenario.loading import load_scenario
from tests.small_scenarios import scenario

ROSTER = [
    {"name": "Big", "training_flop": 4e25, "cash": 2e10, "share": {"chat": 0.6, "reasoning": 0.4, "agentic": 0.3}},
    {"name": "Mid", "training_flop": 2e25, "cash": 1e10, "share": {"chat": 0.2, "reasoning": 0.3, "agentic": 0.4}},
    {"name": "Open", "training_flop": 1e25, "cash": 1e9, "open_weights": True},
]


def small(**overrides):
    return scenario(copy.deepcopy(ROSTER), **{"users__value_sigma": 0.2, "labs__tiers": 2, **overrides})


def test_step_zero_shares_equal_the_observed_shares():
    """The brand inversion makes the equilibrium step-0 shares the roster's shares to 1e-10 (relative)."""
    model = MarketModel(small())
    model.step()
    rows = [r for r in model.recorder.labs if r["step"] == 0]
    for task in model.config.task_names:
        for entry in ROSTER:
            recorded = sum(r["share"] for r in rows if r["name"] == entry["name"] and r["task"] == task)
            if "share" in entry:
                assert recorded == pytest.approx(entry["share"][task], rel=1e-10)
        assert {r["brand"] for r in rows if r["name"] == "Open"} == {0.0}  # no observed share: no brand
    assert model.recorder.timeseries[0]["nash_residual"] <= model.config.labs.br_tolerance


def test_installed_base_is_drawn_from_the_observed_shares():
    model = MarketModel(small(users__count=6000))
    chat = model.users.of_task(0)
    ids = {lab.name: lab.lab_id for lab in model.labs}
    assert abs(np.mean(chat.provider == ids["Big"]) - 0.6) < 0.03
    assert abs(np.mean(chat.provider == ids["Mid"]) - 0.2) < 0.03
    assert np.all(chat.provider[(chat.provider != ids["Big"]) & (chat.provider != ids["Mid"])] == -1)


def test_every_recorded_step_is_a_price_equilibrium():
    result = simulate(small(run__steps=4))
    residuals = result.timeseries.column("nash_residual").to_pylist()
    assert all(r <= 1e-10 for r in residuals)
    assert result.summary["unconverged_steps"] == []
    assert all(r >= 1 for r in result.timeseries.column("br_rounds").to_pylist())


def test_a_step_that_does_not_converge_is_reported():
    result = simulate(small(run__steps=2, labs__br_max_rounds=2, labs__k_search_rounds=1, labs__br_tolerance=1e-14))
    residuals = result.timeseries.column("nash_residual").to_pylist()
    assert 1 in result.summary["unconverged_steps"] and residuals[1] > 1e-14
    assert result.summary["unconverged_steps"] == [step for step, r in enumerate(residuals) if r > 1e-14]


def test_static_homogeneous_market_satisfies_the_logit_first_order_condition():
    """Homogeneous users, fixed products: p - mc = mu / (1 - s) to 1e-9 relative for every offer."""
    model = MarketModel(load_scenario("scenarios/static_homogeneous.toml", {"run.steps": 2}))
    model.step()
    model.step()
    for market in model.markets:
        prob, _ = market.choice_probabilities()
        mu = float(market.users.mu[0])
        assert np.allclose(market.users.mu, mu)
        for lab in np.unique(market.owner[market.owner >= 0]):
            rows = market.owner == lab
            s = float(prob[:, :-1][:, rows].mean(axis=0).sum())
            markup = market.price[rows] - market.cost[rows]
            np.testing.assert_allclose(markup, mu / (1.0 - s), rtol=1e-9)


def test_latency_limit_caps_k_and_the_human_level_cost_does_not_depend_on_the_grid_top():
    base = small(run__steps=1)
    limits = [latency_limit(t, base.compute.copy_tokens_per_second) for t in base.tasks]
    assert limits == pytest.approx([24.0, 144.0, 230.4])
    model = MarketModel(base)
    model.step()
    for market, limit in zip(model.markets, limits, strict=True):
        assert np.all(market.k[market.owner >= 0] <= limit)
    costs = []
    for top in (6, 9):
        grid = [10.0 ** (i / 2) for i in range(2 * top + 1)]
        run = simulate(small(run__steps=1, labs__k_grid=grid))
        costs.append(run.timeseries.column("human_level_cost_reasoning").to_pylist())
    assert costs[0] == costs[1]


def test_data_wall_is_on_raw_compute_and_spares_algorithmic_progress():
    assert laws.pretraining_eoom(1e27, 10.0, 28.0, 0.3) == pytest.approx(28.0)
    assert laws.pretraining_eoom(1e30, 1.0, 28.0, 0.3) == pytest.approx(28.0 + 0.3 * 2)
    assert laws.pretraining_eoom(1e30, 100.0, 28.0, 0.3) == pytest.approx(28.6 + 2.0)


def test_active_parameters_and_the_distilled_variant_set_costs():
    model = MarketModel(small(run__steps=1))
    lab = model.labs[0]
    full, distilled = lab.variants.active_params
    assert full == pytest.approx(0.25 * math.sqrt(4e25 / 120))
    assert distilled == pytest.approx(0.1 * full)
    assert lab.variants.eoom_pre[1] == pytest.approx(lab.variants.eoom_pre[0] - 0.7)


def test_entrants_never_take_a_roster_name():
    roster = copy.deepcopy(ROSTER[:2]) + [{"name": "Entrant-1", "training_flop": 1e24, "cash": 1e9}]
    result = simulate(scenario(roster, run__steps=3, entry__arrivals=40.0, entry__cost=0.0, labs__opex=0.0,
                               users__value_sigma=0.2))
    names = result.labs.column("name").to_pylist()
    assert result.summary["total_entries"] > 0
    entrant_ids = {lab for lab, name in zip(result.labs.column("lab").to_pylist(), names, strict=True)
                   if name == "Entrant-1"}
    assert len(entrant_ids) == 1  # only the roster lab is called Entrant-1


def test_arrivals_that_do_not_pay_do_not_enter():
    result = simulate(small(run__steps=4, entry__arrivals=8.0, entry__cost=1.5e10, entry__cash=2e10))
    ts = result.timeseries.to_pydict()
    assert sum(ts["arrivals"]) > 0 and sum(ts["entries"]) == 0
    assert any(v is not None and v < 0 for v in ts["entry_best_rejected_value"])
    decisions = result.decisions.to_pydict()
    assert "entry" in decisions["decision"] and not any(
        c for c, d in zip(decisions["chosen"], decisions["decision"], strict=True) if d == "entry")


@pytest.mark.parametrize("overrides, fragment", [
    ({"labs.roster.Big.share.chat": 0.9}, "sum to 1.1; they must sum to less than 1"),
    ({"labs.roster.Big.share.chat": 1.0}, "share for task 'chat' must be in (0, 1)"),
    ({"labs.roster.Big.share.chat": 0.0}, "share for task 'chat' must be in (0, 1)"),
    ({"labs.training_multiples": []}, "labs.training_multiples"),
    ({"labs.frontier_multiples": [3.0, 1.0]}, "strictly increasing"),
    ({"entry.frontier_multiples": []}, "entry.frontier_multiples"),
    ({"labs.horizon_cycles": 0}, "labs.horizon_cycles"),
    ({"labs.discount_rate": 1.0}, "labs.discount_rate"),
    ({"labs.discount_rate": -0.1}, "labs.discount_rate"),
    ({"entry.cost": -1.0}, "entry.cost"),
])
def test_bad_dynamics_settings_are_one_line_scenario_errors(overrides, fragment):
    with pytest.raises(ScenarioError) as caught:
        small(**{k.replace(".", "__"): v for k, v in overrides.items()}) if "roster" not in next(iter(overrides)) \
            else load_scenario(None, {"labs.roster": copy.deepcopy(ROSTER), **overrides})
    message = str(caught.value)
    assert "\n" not in message and fragment in message


def test_run_command_names_unconverged_steps(tmp_path, capsys):
    from aimarket.experiments.cli import main

    sets = {"users.count": 300, "run.steps": 2, "labs.br_max_rounds": 2, "labs.k_search_rounds": 1,
            "labs.br_tolerance": 1e-14, "users.value_sigma": 0.2, "labs.roster": None}
    args = ["run", "--out", str(tmp_path / "run"), "--quiet"]
    for key, value in sets.items():
        if value is not None:
            args += ["--set", f"{key}={value}"]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "aimarket: warning: prices did not reach labs.br_tolerance = 1e-14 at" in err
