"""Run one scenario and collect its outputs (the simulation layer's public entry point)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pyarrow as pa

from aimarket.simulation.outputs import check_finite, decisions_table, labs_table, timeseries_table
from aimarket.simulation.scenario.schema import Scenario


@dataclass(frozen=True)
class SimulationResult:
    """Immutable outputs of one run.

    timeseries: one row per step (columns in docs/outputs.md);
    labs: one row per step x lab x task type x tier;
    decisions: one row per option weighed in a training or entry decision;
    summary: JSON-serialisable headline numbers, the resolved scenario, seed and version.
    """

    scenario: Scenario
    seed: int
    timeseries: pa.Table
    labs: pa.Table
    summary: dict = field(default_factory=dict)
    decisions: pa.Table | None = None


def simulate(scenario: Scenario, *, seed: int | None = None, steps: int | None = None,
             progress: Callable[[int], None] | None = None) -> SimulationResult:
    """Run ``scenario`` for ``steps`` steps (default ``scenario.run.steps``) from ``seed``
    (default ``scenario.run.seed``). ``progress(steps_done)`` is called after every step."""
    from aimarket.simulation.model import MarketModel
    from aimarket.simulation.summary import build_summary

    model = MarketModel(scenario, seed=seed)
    steps = scenario.run.steps if steps is None else int(steps)
    for done in range(1, steps + 1):
        model.step()
        if progress is not None:
            progress(done)
    check_finite(model.recorder.timeseries, model.recorder.labs)  # SimulationError naming step, lab, field
    return SimulationResult(scenario, model.seed, timeseries_table(model.recorder.timeseries, scenario),
                            labs_table(model.recorder.labs), build_summary(model),
                            decisions_table(model.recorder.decisions))


def warm_up() -> None:
    """Compile (or load from the cache) every numba kernel with a tiny run; call once per process."""
    from aimarket.simulation.scenario.loading import load_scenario

    tiny = load_scenario(None, {"users.count": 60, "run.steps": 1, "labs.br_max_rounds": 2})
    simulate(tiny)
