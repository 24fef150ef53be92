"""Labs that choose between pre-training and inference scaling (issue 4; docs/ODD.md §7.7-§7.10, §7.13).

Small runs (a few hundred users, one to three labs, at most eight steps) built from the default
scenario with ``load_scenario(None, overrides)``; each check recomputes its quantity by hand from the
outputs and the laws rather than reading it back from the code under test.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import pytest

from aimarket.simulation import laws
from aimarket.simulation.run import simulate
from aimarket.simulation.trends import trends_at
from tests.small_scenarios import scenario


def per_lab(labs):
    """One row per step x lab (the lab-level columns repeat on every task row)."""
    return labs.drop_duplicates(["step", "lab"])


# -- scenarios -------------------------------------------------------------------------------------

@cache
def busy_run():
    """Training, compliance, financing and entry (on an open model and on own models) all at once."""
    s = scenario([dict(name="A", training_flop=5e25, cash=2e10), dict(name="B", training_flop=3e24, cash=3e8),
                  dict(name="C", training_flop=2e25, cash=5e9, open_weights=True)],
                 labs__opex=1e8, labs__model_cycle=2, entry__arrivals=40.0, entry__cost=1e8, entry__cash=5e9,
                 regulator__policy="training_threshold", regulator__compliance_cost=1e8)
    return s, simulate(s, steps=6)


@cache
def exit_run():
    """A lab with too little cash for the opex exits after one step below zero."""
    s = scenario([dict(name="Rich", training_flop=5e25, cash=1e13), dict(name="Poor", training_flop=3e24, cash=1.5e10),
                  dict(name="Mid", training_flop=2e25, cash=1e13)],
                 labs__opex=1e10, labs__exit_after=1, labs__financing_multiple=0.0, labs__training_multiples=[0.0], labs__frontier_multiples=[0.0])
    return s, simulate(s, steps=5)


# -- accounts -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("run", [busy_run, exit_run], ids=["busy", "exit"])
def test_cash_identity(run):
    s, result = run()
    labs = per_lab(result.labs.to_pandas())
    if run is busy_run:  # the run exercises every flow, and entrants start from entry.cash
        for flow in ("lab_training_spend", "lab_compliance", "lab_financing", "lab_entry_cost"):
            assert (labs[flow] > 0).any(), flow
        assert labs.name.str.startswith("Entrant-").any()
    else:
        assert (~labs.alive).any() and (labs.cash < 0).any()
    start = {lab.name: lab.cash for lab in s.labs.roster}
    for name, rows in labs.groupby("name"):
        rows = rows.sort_values("step")
        assert list(rows.step) == list(range(rows.step.iloc[0], rows.step.iloc[-1] + 1))
        previous = start.get(name, s.entry.cash)
        for _, r in rows.iterrows():
            expected = (previous + r.lab_revenue - r.lab_inference_cost - r.lab_opex - r.lab_training_spend
                        - r.lab_compliance + r.lab_financing - r.lab_entry_cost)
            scale = max(abs(previous), abs(r.cash), r.lab_revenue, r.lab_opex, 1.0)
            assert abs(r.cash - expected) <= 1e-9 * scale, (name, r.step)
            assert r.lab_opex == s.labs.opex
            assert r.lab_financing == pytest.approx(s.labs.financing_multiple * r.lab_revenue, rel=1e-12)
            previous = r.cash


@pytest.mark.parametrize("run", [busy_run, exit_run], ids=["busy", "exit"])
def test_revenue_is_price_times_quantity(run):
    _, result = run()
    labs = result.labs.to_pandas()
    assert (labs.quantity > 0).all()
    for (step, name), rows in labs.groupby(["step", "name"]):
        revenue = float(np.sum(rows.price * rows.quantity))
        assert revenue == pytest.approx(rows.lab_revenue.iloc[0], rel=1e-9), (step, name)
        cost = float(np.sum(rows.marginal_cost * rows.quantity))
        assert cost == pytest.approx(rows.lab_inference_cost.iloc[0], rel=1e-9), (step, name)


# -- a monopolist against the outside option ----------------------------------------------------------------

def _monopoly_profit(price, cost, quality, value, mu, outside, tasks):
    """Profit of the only offer for homogeneous users: logit share against the outside option."""
    z = np.clip((value * quality - price - outside) / mu, -700, 700)
    return (price - cost) / (1.0 + np.exp(-z)) * tasks


def _offer(k, row, task, trends, s, variant="full"):
    """(marginal cost, success probability) of the lab's deployed model (or its distilled variant) at
    multiplier ``k`` (L5, L6, L7b, L9)."""
    active = laws.active_parameters(row.training_flop, 0.25)
    eoom = row.eoom_pre + laws.inference_gain(k, task.alpha, task.kappa)
    if variant == "distilled":
        active, eoom = active * s.labs.distill_ratio, eoom - s.labs.distill_penalty
    cost = laws.marginal_cost_per_task(active, task.tokens, k, trends.serving_fpd)  # L9: FLOP per USD of paid tasks
    return cost, laws.success_probability(eoom, task.difficulty, task.width)


def test_lone_lab_picks_the_profit_maximising_k_and_price():
    homogeneous = {f"tasks__{t}__{field}": 0.0 for t in ("chat", "reasoning", "agentic")
                   for field in ("difficulty_sd", "value_gradient", "value_sigma")}
    s = scenario([dict(name="Solo", training_flop=5e25, cash=1e10)], users__count=300, labs__tiers=1,
                 users__value_sigma=0.0, users__switching_cost=0.0, labs__training_multiples=[0.0],
                 labs__frontier_multiples=[0.0], **homogeneous)
    labs = simulate(s, steps=3).labs.to_pandas()
    for step in (0, 2):
        trends = trends_at(s, step)
        for index, task in enumerate(s.tasks):
            row = labs[(labs.step == step) & (labs.task == task.name)].iloc[0]
            value, tasks = task.value, trends.tasks_per_step[index]
            mu = s.users.logit_scale * value
            outside = max(0.0, value * task.human_success - task.wage)
            best = {}
            limit = task.latency_s * s.compute.copy_tokens_per_second * task.parallel_samples / task.tokens
            for k, variant in [(k, v) for k in s.labs.k_grid if k <= limit for v in ("full", "distilled")]:
                cost, quality = _offer(k, row, task, trends, s, variant)
                markups = np.linspace(0.0, 60.0 * mu, 20001)
                profit = _monopoly_profit(cost + markups, cost, quality, value, mu, outside, tasks)
                j = int(np.argmax(profit))
                fine = np.linspace(markups[max(j - 2, 0)], markups[min(j + 2, markups.size - 1)], 4001)
                profit = _monopoly_profit(cost + fine, cost, quality, value, mu, outside, tasks)
                best[(k, variant)] = float(profit.max())
            k_star = max(best, key=best.get)
            runner_up = max((v for k, v in best.items() if k != k_star), default=-np.inf)
            if runner_up < best[k_star] * (1 - 1e-7):
                assert (row.k, row.variant) == k_star, (step, task.name, row.k, row.variant, k_star)
            cost, quality = _offer(row.k, row, task, trends, s, row.variant)
            assert row.marginal_cost == pytest.approx(cost, rel=1e-12)
            chosen = float(_monopoly_profit(row.price, cost, quality, value, mu, outside, tasks))
            assert row.profit == pytest.approx(chosen, rel=1e-9)
            assert chosen >= best[k_star] * (1 - 1e-9)
            # no price near the chosen one does better, and the logit first-order condition holds
            around = row.price + (row.price - cost) * np.linspace(-0.5, 0.5, 10001)
            assert _monopoly_profit(around, cost, quality, value, mu, outside, tasks).max() <= chosen * (1 + 1e-9)
            assert row.price - cost == pytest.approx(mu / (1.0 - row.share), rel=1e-8)


# -- exit ------------------------------------------------------------------------------------------------------

def test_exited_lab_leaves_and_its_users_choose_again():
    s, result = exit_run()
    ts, labs = result.timeseries.to_pandas(), result.labs.to_pandas()
    poor = per_lab(labs[labs.name == "Poor"])
    dead = poor[~poor.alive]
    assert len(dead) == 1, "the lab is recorded dead exactly once, at its exit step"
    exit_step = int(dead.step.iloc[0])
    assert exit_step >= 1 and dead.cash.iloc[0] < 0 and (poor[poor.alive].cash >= 0).all()
    assert poor.step.max() == exit_step, "no rows after the exit step"
    assert ts.exits.tolist() == [1 if step == exit_step else 0 for step in ts.step]
    assert ts.n_labs.tolist() == [3 if step < exit_step else 2 for step in ts.step]
    for step in ts.step:
        rows = labs[labs.step == step]
        row = ts[ts.step == step].iloc[0]
        for task in s.task_names:
            total = rows[rows.task == task].share.sum() + row[f"outside_share_{task}"] + row[f"selfhost_share_{task}"]
            assert total == pytest.approx(1.0, abs=1e-12), (step, task)
    # after the exit, the rest of the market (other labs and the outside option) serves everyone
    before = labs[(labs.step == exit_step) & (labs.name != "Poor")].groupby("task").share.sum()
    after = labs[labs.step == exit_step + 1].groupby("task").share.sum()
    for task in s.task_names:
        poor_share = labs[(labs.step == exit_step) & (labs.name == "Poor") & (labs.task == task)].share.iloc[0]
        assert poor_share > 0
        outside = ts.set_index("step")[f"outside_share_{task}"]
        assert after[task] > before[task] or outside[exit_step + 1] > outside[exit_step]


# -- IDA, strategies, entry, open weights ---------------------------------------------------------------------

@pytest.mark.parametrize("rho", [0.0, 0.3])
def test_ida_lifts_capability_past_the_data_wall(rho):
    s = scenario([dict(name="Wall", training_flop=5e26, cash=1e12, strategy="pretrain_heavy")],
                 ida__enabled=True, ida__multiples=[1.0], capability__post_wall_returns=rho,
                 capability__data_wall_raw_flop=26.0, labs__training_multiples=[1.0], labs__frontier_multiples=[1.0])
    result = simulate(s, steps=3)
    models = {m["name"]: m for m in result.summary["models"]}
    trained = models["Wall-1"]
    assert trained["ida_flop"] == trained["raw_flop"] == 5e26 and trained["release_step"] == 2
    wall = s.capability.data_wall_raw_flop
    started = trained["release_step"] - s.labs.training_steps
    x = math.log10(trained["raw_flop"])
    assert x > wall, "the raw compute alone is past the data wall (which is on raw compute, L4)"
    algorithms = started * s.time.step_years * math.log10(s.compute.algo_growth)
    capped = algorithms + wall + rho * (x - wall)
    gain = s.ida.exchange_rate * math.log10(1.0 + trained["ida_flop"] / trained["raw_flop"])
    assert trained["eoom_pre"] == pytest.approx(capped + gain, rel=1e-12)
    assert trained["eoom_pre"] > capped
    assert models["Wall-0"]["eoom_pre"] == pytest.approx(wall + rho * (x - wall), rel=1e-12)  # step 0, no IDA
    # training cost includes the IDA inference compute at the inference price
    trends = trends_at(s, started)
    assert trained["training_cost"] == pytest.approx(5e26 / trends.training_fpd + 5e26 / trends.inference_fpd,
                                                     rel=1e-12)


def test_inference_heavy_labs_spend_a_larger_share_on_inference():
    means = {}
    for strategy in ("inference_heavy", "pretrain_heavy"):
        roster = [dict(name=n, training_flop=f, cash=c, strategy=strategy)
                  for n, f, c in [("A", 5e25, 2e10), ("B", 2e25, 1e10), ("C", 5e24, 5e9)]]
        ts = simulate(scenario(roster), steps=6).timeseries.to_pandas()
        assert ts.inference_share.notna().all()
        means[strategy] = ts.inference_share.mean()
    assert means["inference_heavy"] > means["pretrain_heavy"] + 0.05


def test_entry_when_cheap_and_not_when_dear():
    roster = [dict(name="A", training_flop=5e25, cash=1e10), dict(name="B", training_flop=2e25, cash=1e10)]
    cheap = simulate(scenario(roster, entry__arrivals=40.0, entry__cost=1e6, entry__cash=1e10), steps=2)
    ts = cheap.timeseries.to_pandas()
    assert ts.entries.sum() > 0 and cheap.summary["total_entries"] == ts.entries.sum()
    labs = cheap.labs.to_pandas()
    first = int(ts.step[ts.entries > 0].iloc[0])
    entrant = per_lab(labs[labs.name == "Entrant-1"])
    assert entrant.step.min() == first and entrant.lab_entry_cost.iloc[0] == 1e6
    assert ts.n_labs[ts.step == first].iloc[0] == 2 + ts.entries[ts.step == first].iloc[0]
    dear = simulate(scenario(roster, entry__arrivals=40.0, entry__cost=1e15, entry__cash=1e10), steps=2)
    assert dear.timeseries.column("entries").to_pylist() == [0, 0]
    assert set(dear.labs.column("name").to_pylist()) == {"A", "B"}


@pytest.mark.parametrize("lag", [0, 3])
def test_open_weights_become_self_hostable_after_the_lag(lag):
    roster = [dict(name="Closed", training_flop=5e25, cash=1e10),
              dict(name="Open", training_flop=2e25, cash=1e10, open_weights=True)]
    s = scenario(roster, open__lag=lag, labs__training_multiples=[0.0], labs__frontier_multiples=[0.0])
    ts = simulate(s, steps=5).timeseries.to_pandas()
    hosted = ts[[f"selfhost_share_{t}" for t in s.task_names]].sum(axis=1)
    available = ts.step >= lag
    assert (hosted[available] > 0).all() and (hosted[~available] == 0).all()
    assert ts.open_gap_eoom[available].notna().all() and ts.open_gap_eoom[~available].isna().all()
    # the gap is the frontier's pre-training eOOM minus the open model's (2e25 vs 5e25 FLOP)
    assert ts.open_gap_eoom[available].iloc[0] == pytest.approx(math.log10(5e25 / 2e25), rel=1e-12)


# -- undefined summary fields are null ---------------------------------------------------------------------------

def test_undefined_summary_fields_are_none():
    hard = {f"tasks__{t}__difficulty": 60.0 for t in ("chat", "reasoning", "agentic")}
    s = scenario([dict(name="A", training_flop=5e25, cash=1e10), dict(name="B", training_flop=2e25, cash=1e10)],
                 regulator__threshold_flop=1e40, **hard)
    result = simulate(s, steps=2)
    summary = result.summary
    for field in ("agi_year", "agi_cost_per_task", "agi_cost_ratio", "agi_copies", "parity_year",
                  "peak_regulated_share", "first_evasion_step", "first_evasion_year", "final_open_gap_eoom"):
        assert summary[field] is None, field
    for field in ("human_level_year", "human_level_cost_ratio", "parity_year_by_task"):
        assert summary[field] == {t: None for t in s.task_names}, field
    ts = result.timeseries
    for column in ["regulated_share", "open_gap_eoom"] + [f"human_level_cost_{t}" for t in s.task_names]:
        assert ts.column(column).to_pylist() == [None, None], column
    assert ts.column("agi_reached").to_pylist() == [False, False]

    def walk(value):  # nothing undefined may hide as NaN either
        if isinstance(value, dict):
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)
        elif isinstance(value, float):
            assert math.isfinite(value)

    walk({k: v for k, v in summary.items() if k != "scenario"})


def test_partly_defined_summary():
    s = scenario([dict(name="A", training_flop=5e25, cash=1e10)], tasks__agentic__difficulty=60.0)
    summary = simulate(s, steps=2).summary
    assert summary["agi_year"] is None and summary["agi_cost_ratio"] is None and summary["parity_year"] is None
    assert summary["human_level_year"]["agentic"] is None and summary["parity_year_by_task"]["agentic"] is None
    assert summary["human_level_year"]["chat"] == s.time.start_year
    assert summary["human_level_cost_ratio"]["chat"] > 0
