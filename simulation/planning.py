"""Forward-looking valuations behind labs' pre-training and entrants' entry decisions (docs/ODD.md §7.8, §7.10).

A lab values a model by the operating profit it would earn over ``labs.horizon_cycles`` model
cycles, discounted at ``labs.discount_rate`` per year (P1):

    PV = sum_h  cycle_steps * pi(tau_h) * (1 + r) ** -tau_h,   tau_h = delay + (h - 1/2) * cycle_years,

where ``pi(tau)`` is the best operating profit per step (net of the revenue share of opex) the
model earns in the market as the lab expects it ``tau`` years ahead (P2): demand grown on trend,
every marginal cost fallen with hardware price-performance (rivals keep their markups), brand terms
depreciated, and rivals' capability raised at the frontier's trailing growth rate (labs expect
rivals to keep upgrading). ``pi`` is a single-tier best response over every product (variant, k)
on every ``stride``-th user (about ``PROJECTION_USERS`` users per task type), summed over task types.
The projected markets depend on the lab and on ``tau`` only, so they are built once per decision
and every option is valued on them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aimarket.agents.strategies import TrainingOption
from aimarket.simulation import laws
from aimarket.simulation.errors import SimulationError
from aimarket.simulation.market import DISTILLED, FULL, TaskMarket, Variants

PROJECTION_USERS = 500


@dataclass(frozen=True)
class Outlook:
    """The markets one lab expects at the horizon's points ``taus`` [years from now] with their discount factors."""

    taus: tuple[float, ...]
    discounts: tuple[float, ...]
    markets: tuple[tuple[TaskMarket, ...], ...]  # per tau, per task type
    cycle_steps: int


def rival_growth_rate(model) -> float:
    """Expected growth of rivals' capability [eOOM per year]: the frontier's pre-training capability over
    the last year of recorded steps, or algorithmic progress alone (``log10 algo_growth``) before that
    (and never below it)."""
    s = model.config
    floor = float(np.log10(s.compute.algo_growth))
    rows = model.recorder.timeseries
    steps_per_year = max(1, int(round(1.0 / s.time.step_years)))
    if (len(rows) <= steps_per_year or rows[-1]["frontier_eoom"] is None
            or rows[-1 - steps_per_year]["frontier_eoom"] is None):
        return floor
    years = steps_per_year * s.time.step_years
    trailing = (rows[-1]["frontier_eoom"] - rows[-1 - steps_per_year]["frontier_eoom"]) / years
    return max(floor, float(trailing))


def outlook(model, lab_id: int, delay_years: float) -> Outlook:
    """The projected markets for a model released ``delay_years`` from now (P1-P2)."""
    s = model.config
    cycle_years = s.labs.model_cycle * s.time.step_years
    growth = rival_growth_rate(model)
    taus, discounts, markets = [], [], []
    for h in range(1, s.labs.horizon_cycles + 1):
        tau = delay_years + (h - 0.5) * cycle_years
        taus.append(tau)
        discounts.append((1.0 + s.labs.discount_rate) ** -tau)
        markets.append(tuple(
            market.projected(lab_id, max(1, market.users.count // PROJECTION_USERS), tau, growth * tau,
                             s.demand.growth ** tau, s.compute.hardware_growth ** -tau,
                             (1.0 - s.demand.brand_decay) ** tau)
            for market in model.markets))
    return Outlook(tuple(taus), tuple(discounts), tuple(markets), s.labs.model_cycle)


def present_values(view: Outlook, lab_id: int, models: list[Variants], k_grid: np.ndarray, context: str) -> list[float]:
    """Discounted operating profit over the outlook's horizon [$] (P1) of each deployed model in ``models``,
    all valued on each projected market in one call (TaskMarket.best_of_models)."""
    totals = np.zeros(len(models))
    for discount, markets in zip(view.discounts, view.markets, strict=True):
        per_step = np.zeros(len(models))
        for market in markets:
            products = [(variant, float(k)) for variant in (FULL, DISTILLED) for k in market.allowed_k(k_grid)]
            profits, iterations = market.best_of_models(lab_id, models, products)
            if np.any(iterations < 0) or not np.all(np.isfinite(profits)):
                raise SimulationError(f"{context}, task '{market.task.name}': the projected best-response price "
                                      "did not converge")
            per_step += np.maximum(0.0, profits)
        totals += view.cycle_steps * per_step * discount
    return [float(x) for x in totals]


def present_value(view: Outlook, lab_id: int, variants: Variants, k_grid: np.ndarray, context: str) -> float:
    """Discounted operating profit of a model with ``variants`` over the outlook's horizon [$] (P1)."""
    return present_values(view, lab_id, [variants], k_grid, context)[0]


def training_options(model, lab) -> list[TrainingOption]:
    """Affordable next models for ``lab`` with their valuations (P3): keeping the current model, raw
    compute at ``labs.training_multiples`` of the lab's own model and at ``labs.frontier_multiples`` of
    the frontier model (the largest deployed raw compute), each with IDA compute at ``ida.multiples``
    of it when IDA is enabled.

    eoom_pre = L4(C_raw, A(now)) + L4b(C_ida); cost = C_raw / training FLOP per $ + C_ida / inference
    FLOP per $. An option is affordable when its cost is at most cash plus financing capacity. Every
    option is valued on the same outlook: released ``labs.training_steps`` steps from now.
    """
    s = model.config
    trends = model.trends
    cap = s.capability
    context = f"step {model.step_index}, lab '{lab.name}' (training projection)"
    view = outlook(model, lab.lab_id, s.labs.training_steps * s.time.step_years)
    current = lab.deployed
    frontier_raw = max(other.deployed.raw_flop for other in model.labs)
    bases = [("own", m, current.raw_flop * m) for m in s.labs.training_multiples if m > 0]
    bases += [("frontier", m, frontier_raw * m) for m in s.labs.frontier_multiples if m > 0]
    seen = set()
    ida_multiples = s.ida.multiples if s.ida.enabled else [0.0]
    budget = lab.financing_capacity()
    new = []
    for basis, multiple, raw in bases:
        base_eoom = laws.pretraining_eoom(raw, trends.algo_eff, cap.data_wall_raw_flop, cap.post_wall_returns)
        for ida_multiple in ida_multiples:
            ida_flop = raw * ida_multiple
            key = (round(float(np.log10(raw)), 12), ida_multiple)
            cost = laws.training_cost(raw, trends.training_fpd) + ida_flop / trends.inference_fpd
            if key in seen or cost > budget:
                continue
            seen.add(key)
            eoom = base_eoom + laws.ida_gain(s.ida.exchange_rate, ida_flop, raw)
            candidate = model.new_trained_model(lab, raw, ida_flop, eoom, cost)
            compliance = (model.regulator.compliance_cost
                          if model.regulator.would_regulate(candidate, trends.algo_eff) else 0.0)
            new.append((basis, multiple, ida_multiple, raw, ida_flop, eoom, candidate, cost, compliance))
    values = present_values(view, lab.lab_id, [lab.variants] + [
        candidate.variants(s.labs.distill_ratio, s.labs.distill_penalty) for *_, candidate, _, _ in new],
        model.k_grid, context)
    options = [TrainingOption("keep", 0.0, 0.0, current.raw_flop, 0.0, current.eoom_pre, values[0], 0.0, 0.0)]
    for (basis, multiple, ida_multiple, raw, ida_flop, eoom, _, cost, compliance), value in zip(new, values[1:],
                                                                                                 strict=True):
        options.append(TrainingOption(basis, multiple, ida_multiple, raw, ida_flop, eoom, value, cost, compliance))
    return options


def fixed_cost_present_value(view: Outlook, opex_per_step: float) -> float:
    """Discounted fixed operating cost over the outlook's horizon [$]."""
    return sum(view.cycle_steps * opex_per_step * d for d in view.discounts)
