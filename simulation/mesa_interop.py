"""Mesa's own idioms on :class:`~aimarket.simulation.model.MarketModel`: keyword construction, a
``mesa.DataCollector`` and ``model.running``, so that ``mesa.batch_run`` works on it (Mesa 3.3 and 3.5).

Keyword construction: ``MarketModel(scenario=None, *, seed=None, **overrides)``. ``scenario`` is a
:class:`~aimarket.simulation.scenario.schema.Scenario`, a path to a TOML file, a nested dict, or None for the
packaged default scenario. ``overrides`` are dotted scenario keys, written ``users__count=5000`` (a
double underscore for each dot) or given as a dict (``overrides={"labs.roster.Google DeepMind.cash":
2e10}`` or ``**{"users.count": 5000}``), validated exactly as ``aimarket run --set`` is: a bad key or
value is a one-line :class:`~aimarket.simulation.errors.ScenarioError`.

Seeds: ``seed`` (or Mesa's ``rng``, when it is an integer) is the root seed; None takes the scenario's
``run.seed``, so a scenario and a seed determine a run. ``mesa.batch_run`` repeats ``iterations`` with
the seed it passes, which is None unless you give ``rng=`` (Mesa 3.5): replications are therefore
best varied through the scenario, ``parameters={"run__seed": range(4), ...}``, on every Mesa version.
In ``parameters`` a scenario object must be wrapped in a list (``{"scenario": [scenario]}``): batch_run
iterates over any other value, and a Scenario iterates as its fields.

DataCollector: one model reporter per column of ``timeseries.parquet`` (docs/outputs.md, with units),
each reading the row the :class:`~aimarket.simulation.metrics.Recorder` has just written, and collected
once per step right after it: ``model.datacollector.get_model_vars_dataframe()`` equals the
timeseries table row for row (no second implementation of the metrics).
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import Any

import mesa

from aimarket.simulation.errors import ScenarioError, UserInputError
from aimarket.simulation.scenario.overrides import apply_overrides, dotted_overrides
from aimarket.simulation.scenario.schema import Scenario


def model_scenario(scenario: Any, overrides: Mapping[str, Any]) -> Scenario:
    """The validated scenario of a model built from ``scenario`` (see the module docstring) with the
    keyword ``overrides`` applied."""
    from aimarket.simulation.scenario.loading import load_scenario

    pairs = dotted_overrides(overrides)
    if scenario is None or isinstance(scenario, str | Path):
        return load_scenario(scenario, pairs)
    if isinstance(scenario, Scenario):
        return apply_overrides(scenario, pairs) if pairs else scenario
    if isinstance(scenario, Mapping):
        return apply_overrides(scenario, pairs)
    if isinstance(scenario, tuple) and len(scenario) == 2 and isinstance(scenario[0], str):
        raise ScenarioError(
            "MarketModel: scenario is a (field, value) pair: mesa.batch_run iterated over a Scenario; "
            "write parameters={'scenario': [scenario], ...} (or give a path)")
    raise ScenarioError(
        f"MarketModel: scenario must be a Scenario, a TOML path, a dict or None (got {type(scenario).__name__})")


def model_seed(scenario: Scenario, seed: Any = None, rng: Any = None) -> int:
    """The root seed: ``seed``, else Mesa's ``rng`` if given, else ``scenario.run.seed``; a
    non-negative integer (a one-line :class:`UserInputError` otherwise)."""
    value = seed if seed is not None else rng
    if value is None:
        return int(scenario.run.seed)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < 0:
        raise UserInputError(f"MarketModel: seed must be a non-negative integer (got {value!r})")
    return int(value)


def recorded(column: str, model) -> Any:
    """``column`` of the Recorder's latest timeseries row (None before the first step)."""
    rows = model.recorder.timeseries
    return rows[-1].get(column) if rows else None


def timeseries_collector(model) -> mesa.DataCollector:
    """A DataCollector with one model reporter per timeseries column, reading the Recorder's rows."""
    from aimarket.simulation.outputs import timeseries_columns

    return mesa.DataCollector(model_reporters={c: partial(recorded, c) for c in timeseries_columns(model.config)})


def after_record(model) -> None:
    """End of a step, after the Recorder's row: collect it, and stop ``model.running`` once the
    scenario's ``run.steps`` are done (so ``model.run_model()`` ends; ``step()`` still works)."""
    model.datacollector.collect(model)
    model.running = model.step_index + 1 < model.config.run.steps


__all__ = ["after_record", "model_scenario", "model_seed", "recorded", "timeseries_collector"]
