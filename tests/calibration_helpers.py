"""Hand-built run outputs for the calibration tests: small pyarrow tables with the columns the
calibration quantities read (docs/outputs.md names), so the registry and the fitting can be checked
against numbers computed by hand, without running the model."""

from __future__ import annotations

from types import SimpleNamespace

import pyarrow as pa

from aimarket.simulation.run import SimulationResult

TASKS = ("chat", "reasoning", "agentic")


def fake_scenario(labs: dict[str, dict[str, float] | None], *, start_year: float = 2025.0,
                  step_years: float = 0.25, seed: int = 7) -> SimpleNamespace:
    """The attributes of a Scenario the calibration reads; ``labs`` maps a roster name to its share table."""
    roster = [SimpleNamespace(name=name, share=share) for name, share in labs.items()]
    return SimpleNamespace(labs=SimpleNamespace(roster=roster), task_names=list(TASKS),
                           time=SimpleNamespace(start_year=start_year, step_years=step_years),
                           run=SimpleNamespace(seed=seed))


def synthetic_result(scenario, steps: int, *, revenue: dict[str, list[float]],
                     shares: dict[tuple[str, str], list[float]] | None = None,
                     training_flop: dict[str, list[float]] | None = None, open_labs: frozenset = frozenset(),
                     timeseries: dict[str, list] | None = None) -> SimulationResult:
    """A SimulationResult of ``steps`` steps.

    revenue: per lab name, its ``lab_revenue`` at each step (repeated on every one of its rows, as in
    labs.parquet); shares: per (lab, task), the ``share`` of each of its tiers (the same at every step,
    default one tier of 0.1); training_flop: per lab, at each step (default 1e25); timeseries: extra
    columns, one value per step. ``revenue`` in timeseries.parquet is the sum of the labs' revenue.
    """
    shares = shares or {}
    rows = []
    for step in range(steps):
        for lab_id, (name, per_step) in enumerate(revenue.items(), start=2):
            for task in TASKS:
                for tier, share in enumerate(shares.get((name, task), [0.1])):
                    rows.append({"step": step, "lab": lab_id, "name": name, "task": task, "tier": tier,
                                 "variant": "flagship", "share": share,
                                 "training_flop": (training_flop or {}).get(name, [1e25] * steps)[step],
                                 "open_weights": name in open_labs, "lab_revenue": per_step[step]})
    labs = pa.Table.from_pylist(rows)
    series = {"step": list(range(steps)),
              "year": [scenario.time.start_year + s * scenario.time.step_years for s in range(steps)],
              "revenue": [sum(per_step[s] for per_step in revenue.values()) for s in range(steps)]}
    series.update(timeseries or {})
    return SimulationResult(scenario, scenario.run.seed, pa.table(series), labs, {})
