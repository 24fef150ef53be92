"""Sutton's (1991) two textbook cases on quick sizes (docs/ODD.md §8.2): the validation scenarios
swept over market size, each run in the experiment files' design (experiments/validation/)."""

from __future__ import annotations

import numpy as np
import pytest

from aimarket.experiments.sweeps.design import build_runs, load_base_scenario, run_overrides
from aimarket.experiments.sweeps.spec import read_experiment
from aimarket.simulation.run import simulate
from aimarket.simulation.scenario.overrides import apply_overrides


def sweep_by_size(name: str) -> dict[float, list[tuple[float, int]]]:
    """Final HHI and number of labs of every run of the quick experiment, by market size."""
    exp = read_experiment(f"experiments/validation/{name}.quick.toml")
    base = load_base_scenario(exp)
    results: dict[float, list[tuple[float, int]]] = {}
    for run in build_runs(exp):
        scenario = apply_overrides(base, run_overrides(exp, run))
        summary = simulate(scenario).summary
        results.setdefault(scenario.demand.market_scale, []).append((summary["final_hhi"], summary["final_n_labs"]))
    return dict(sorted(results.items()))


def test_exogenous_sunk_costs_more_labs_and_less_concentration_in_larger_markets():
    by_size = sweep_by_size("sutton_exogenous")
    hhi = [np.mean([h for h, _ in runs]) for runs in by_size.values()]
    labs = [np.mean([n for _, n in runs]) for runs in by_size.values()]
    assert all(b > a for a, b in zip(labs, labs[1:], strict=False)), labs
    assert all(b < a for a, b in zip(hhi, hhi[1:], strict=False)), hhi
    assert hhi[-1] < 0.1


@pytest.mark.xfail(strict=True, reason="the model does not reproduce the endogenous-sunk-cost bound: entrants "
                   "match the frontier's quality at a cost small against the market (docs/ODD.md §8.2)")
def test_endogenous_sunk_costs_concentration_stays_bounded_in_larger_markets():
    by_size = sweep_by_size("sutton_endogenous")
    hhi = [np.mean([h for h, _ in runs]) for runs in by_size.values()]
    labs = [np.mean([n for _, n in runs]) for runs in by_size.values()]
    assert hhi[-1] >= 0.5 * hhi[0]
    assert hhi[-1] > 1.0 / labs[-1]
