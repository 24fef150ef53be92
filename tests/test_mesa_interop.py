"""Mesa's idioms on MarketModel: keyword construction validated as --set, model.datacollector equal to
the Recorder's timeseries, model.running, and mesa.batch_run (Mesa 3.3 and 3.5)."""

from __future__ import annotations

import warnings
from pathlib import Path

import mesa
import pytest

from aimarket import MarketModel, load_scenario, simulate
from aimarket.simulation.errors import UserInputError
from aimarket.simulation.outputs import timeseries_columns

REPO = Path(__file__).resolve().parents[1]
TINY = {"users__count": 300, "labs__br_tolerance": 1e-6}  # a few tenths of a second per step


def batch_run(**kwargs):
    with warnings.catch_warnings():  # Mesa 3.5 deprecates iterations= in favour of rng=
        warnings.simplefilter("ignore", DeprecationWarning)
        return mesa.batch_run(MarketModel, display_progress=False, number_processes=1, **kwargs)


def test_datacollector_holds_the_recorders_timeseries_row_for_row():
    model = MarketModel(seed=5, **TINY)
    for _ in range(3):
        model.step()
    frame = model.datacollector.get_model_vars_dataframe()
    columns = timeseries_columns(model.config)
    assert list(frame.columns) == columns
    collected = frame.astype(object).where(frame.notna(), None).to_dict("records")  # NaN back to None
    assert collected == [{c: row.get(c) for c in columns} for row in model.recorder.timeseries]
    assert len(collected) == 3
    # stepping the model by hand records exactly what simulate() returns
    reference = simulate(load_scenario(None, {"users.count": 300, "labs.br_tolerance": 1e-6}), seed=5, steps=3)
    assert reference.timeseries.column("hhi").to_pylist() == list(frame["hhi"])
    alive = {r["name"] for r in reference.labs.to_pylist() if r["step"] == 2 and r["alive"]}
    assert {lab.name for lab in model.labs} == alive and alive


def test_keyword_constructor_is_load_scenario_with_overrides():
    expected = load_scenario(None, {"users.count": 300, "labs.br_tolerance": 1e-6,
                                    "labs.roster.Google DeepMind.cash": 2e10})
    by_keywords = MarketModel(**TINY, overrides={"labs.roster.Google DeepMind.cash": 2e10})
    by_dotted = MarketModel(**{"users.count": 300, "labs.br_tolerance": 1e-6,
                               "labs.roster.Google DeepMind.cash": 2e10})
    assert by_keywords.config == by_dotted.config == expected
    assert by_keywords.seed == expected.run.seed and MarketModel(seed=9, **TINY).seed == 9
    assert MarketModel(rng=4, **TINY).seed == 4  # Mesa's name for the seed
    from_path = MarketModel(REPO / "scenarios" / "policy_capability.toml", users__count=300)
    assert from_path.config.regulator.policy == "capability_threshold"
    assert from_path.config.users.count == 300
    from_object = MarketModel(expected, users__count=400)
    assert from_object.config.users.count == 400 and from_object.config.labs.br_tolerance == 1e-6


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"users__cont": 5}, "unknown scenario field 'users.cont' (did you mean 'users.count'?)"),
    ({"users__count": -1}, "scenario field 'users.count'"),
    ({"seed": -1}, "MarketModel: seed must be a non-negative integer (got -1)"),
    ({"seed": 1.5}, "MarketModel: seed must be a non-negative integer (got 1.5)"),
    ({"scenario": ("users", 1)}, "mesa.batch_run iterated over a Scenario; write parameters={'scenario': [scenario]"),
    ({"scenario": 3}, "MarketModel: scenario must be a Scenario, a TOML path, a dict or None (got int)"),
    ({"scenario": "no/such.toml"}, "scenario file 'no/such.toml' does not exist"),
    ({"overrides": 3}, "MarketModel: overrides must be a dict of dotted scenario keys (got 3)"),
])
def test_bad_keyword_input_is_one_line(kwargs, message):
    with pytest.raises(UserInputError) as info:
        MarketModel(**kwargs)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_batch_run_returns_one_row_per_run_with_the_models_own_numbers():
    rows = batch_run(parameters={"users__count": [300, 400], "labs__br_tolerance": 1e-6}, iterations=2, max_steps=2)
    assert len(rows) == 4
    assert sorted(r["users__count"] for r in rows) == [300, 300, 400, 400]
    for row in rows:
        assert set(timeseries_columns(load_scenario())) <= set(row)
    # Mesa 3.3 runs max_steps + 1 steps, Mesa 3.5 max_steps: the row's own `step` says which step it is
    row = next(r for r in rows if r["users__count"] == 400)
    model = MarketModel(users__count=400, labs__br_tolerance=1e-6)
    for _ in range(row["step"] + 1):
        model.step()
    assert row["hhi"] == model.recorder.timeseries[-1]["hhi"]
    assert row["n_labs"] == len(model.labs)


def test_batch_run_replications_through_run_seed_differ():
    rows = batch_run(parameters={**TINY, "run__seed": [1, 2]}, max_steps=1)
    assert len(rows) == 2
    assert rows[0]["hhi"] != rows[1]["hhi"]


def test_running_turns_false_after_the_scenarios_steps():
    model = MarketModel(run__steps=2, **TINY)
    assert model.running
    model.run_model()  # Mesa's loop: while model.running: model.step()
    assert model.steps == 2 and len(model.recorder.timeseries) == 2 and not model.running
