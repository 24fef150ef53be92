"""Exogenous trends at a step (docs/ODD.md §2.3-§4): calendar, compute prices, algorithms, demand."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aimarket.simulation import laws
from aimarket.simulation.scenario.schema import Scenario


@dataclass(frozen=True)
class Trends:
    """Exogenous quantities at one step.

    years: time since step 0 [years]; training_fpd / inference_fpd: FLOP per USD (L1, L2); serving_fpd:
    inference FLOP per USD of paid tasks, inference_fpd x compute.paid_compute_share (L2b, the cost law);
    algo_eff: algorithmic efficiency A(t) (L3); flop_per_joule: energy efficiency of training
    [FLOP/J]; inference_flop_per_joule: the same at inference utilisation and precision (L2's ratio);
    tasks_per_step: per task type, tasks demanded this step [tasks].
    """

    step: int
    year: float
    years: float
    training_fpd: float
    inference_fpd: float
    serving_fpd: float
    algo_eff: float
    flop_per_joule: float
    inference_flop_per_joule: float
    tasks_per_step: np.ndarray


def trends_at(scenario: Scenario, step: int) -> Trends:
    years = step * scenario.time.step_years
    c = scenario.compute
    training_fpd = laws.training_flop_per_dollar(years, c.flop_per_dollar, c.hardware_growth)
    demand = scenario.demand.market_scale * scenario.demand.growth**years
    inference_fpd = laws.at_inference(training_fpd, c.inference_utilisation, c.training_utilisation, c.precision_factor)
    return Trends(
        step=step,
        year=scenario.time.start_year + years,
        years=years,
        training_fpd=training_fpd,
        inference_fpd=inference_fpd,
        serving_fpd=inference_fpd * c.paid_compute_share,
        algo_eff=laws.algorithmic_efficiency(years, c.algo_growth),
        flop_per_joule=c.flop_per_joule * c.energy_growth**years,
        inference_flop_per_joule=laws.at_inference(c.flop_per_joule * c.energy_growth**years,
                                                   c.inference_utilisation, c.training_utilisation,
                                                   c.precision_factor),
        tasks_per_step=np.array([t.tasks_per_step * demand for t in scenario.tasks]),
    )


def algo_eff_at_year(scenario: Scenario, year: float) -> float:
    """A(t) for a calendar year (models trained before the start get A < 1)."""
    return laws.algorithmic_efficiency(year - scenario.time.start_year, scenario.compute.algo_growth)
