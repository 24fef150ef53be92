"""Strategy objects: registration of a researcher's own strategy, tiers, and the static strategy."""

from __future__ import annotations

import math

import pytest

from aimarket.agents.strategies import OptimiseStrategy, available_strategies, register_strategy
from aimarket.experiments.cli import main as cli_main
from aimarket.simulation.errors import ScenarioError
from aimarket.simulation.run import simulate
from aimarket.simulation.scenario.loading import load_scenario

SMALL = {"users.count": 600, "run.steps": 4, "entry.arrivals": 0.0}


class NeverTrains(OptimiseStrategy):
    def choose_training(self, lab, options):
        return None


def test_a_strategy_registered_outside_the_package_is_used():
    register_strategy("never_trains", lambda: NeverTrains(name="never_trains"))
    assert "never_trains" in available_strategies()
    scenario = load_scenario(None, {**SMALL, "labs.roster.OpenAI.strategy": "never_trains"})
    labs = simulate(scenario).labs.to_pandas()
    openai = labs[labs.name == "OpenAI"]
    assert (openai.lab_training_spend == 0).all()
    assert (labs[labs.name == "Anthropic"].lab_training_spend > 0).any()


def test_unknown_strategy_is_a_one_line_scenario_error(tmp_path, capsys):
    with pytest.raises(ScenarioError, match=r"labs\.roster\.OpenAI\.strategy.*allowed: "):
        simulate(load_scenario(None, {**SMALL, "labs.roster.OpenAI.strategy": "telepathy"}))
    code = cli_main(["run", "--out", str(tmp_path / "x"), "--set", "labs.roster.OpenAI.strategy=telepathy",
                     "--set", "users.count=300", "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "telepathy" in err[0]


def test_two_tiers_satisfy_multi_product_markup_rule():
    """Homogeneous users, two tiers per lab: every offer of a lab on a task type has the same markup
    mu / (1 - sum of the lab's shares) (docs/ODD.md §7.7-§7.10)."""
    scenario = load_scenario("scenarios/static_homogeneous.toml", {
        "labs.tiers": 2, "run.steps": 2, "labs.roster.Alpha.strategy": "optimise",
        "labs.roster.Beta.strategy": "optimise", "labs.roster.Gamma.strategy": "optimise",
        "labs.training_multiples": [0.0]})
    labs = simulate(scenario).labs.to_pandas()
    mu = {t.name: scenario.users.logit_scale * t.value for t in scenario.tasks}
    last = labs[labs.step == labs.step.max()]
    assert (last.groupby(["name", "task"]).size() == 2).all()
    for (name, task), rows in last.groupby(["name", "task"]):
        expected = mu[task] / (1.0 - rows.share.sum())
        for markup in rows.price - rows.marginal_cost:
            assert math.isclose(markup, expected, rel_tol=1e-7), (name, task)


def test_biased_strategies_differ_in_k():
    pre = load_scenario(None, {**SMALL, **{f"labs.roster.{n}.strategy": "pretrain_heavy" for n in
                                           ("OpenAI", "Anthropic", "Google DeepMind", "xAI", "Meta", "DeepSeek",
                                            "Mistral")}})
    labs = simulate(pre).labs.to_pandas()
    assert labs.k.max() <= 10.0
    inf = load_scenario(None, {**SMALL, **{f"labs.roster.{n}.strategy": "inference_heavy" for n in
                                           ("OpenAI", "Anthropic", "Google DeepMind", "xAI", "Meta", "DeepSeek",
                                            "Mistral")}})
    assert simulate(inf).labs.to_pandas().k.min() >= 10.0


@pytest.mark.parametrize("overrides", [{"users.value_sigma": 0.0}, {"users.value_sigma": 2.0},
                                       {"users.logit_scale": 0.01}, {"users.switching_cost": 0.5}])
def test_two_tiers_run_in_markets_that_broke_the_zeta_iteration(overrides):
    """Two tiers with training (the full k search pairs cheap and very dear offers) and heterogeneous,
    nearly deterministic or sticky users: every best response converges (a failure raises)."""
    # a roster without observed shares: with value_sigma 2 the default roster's shares are out of reach
    # (docs/ODD.md §5.4), and this test is about the price solver
    roster = [{"name": n, "training_flop": f, "cash": 1e10} for n, f in [("A", 5e25), ("B", 2e25), ("C", 4e24)]]
    result = simulate(load_scenario(None, {"users.count": 600, "run.steps": 6, "labs.tiers": 2, "labs.roster": roster,
                                           **overrides}))
    labs = result.labs.to_pandas()
    assert (labs.groupby(["step", "name", "task"]).size() == 2).all()
    assert labs.price.gt(labs.marginal_cost).all()
