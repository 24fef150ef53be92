"""Projections behind labs' pre-training and entrants' entry decisions (docs/ODD.md §7.6-§7.11 steps 2-3, entry).

A projection asks: with a model of capability ``E_pre`` and size ``C_raw``, what operating profit
per step would the lab earn against rivals' *current* offers, choosing k and price optimally on each
task type? It is evaluated on every ``stride``-th user of each task type, ``stride =
users // PROJECTION_USERS`` (so between ``PROJECTION_USERS`` and twice as many users; all of them
below that), over the whole k grid, with one offer per task type.
Projected profit over a cycle is that per-step profit times ``labs.model_cycle`` (the model serves
at least one cycle after release) — a myopic rule that ignores rivals' responses, documented in
docs/ODD.md.
"""

from __future__ import annotations

import numpy as np

from agents.strategies import TrainingOption
from simulation import laws
from simulation.errors import SimulationError
from simulation.market import TaskMarket

PROJECTION_USERS = 500
PROJECTION_K_WINDOW = 3  # grid steps around a lab's current k searched when projecting its next model


def projected_step_profit(markets: list[TaskMarket], lab_id: int, raw_flop: float, eoom_pre: float,
                          k_grid: np.ndarray, current_prices=None, context: str = "projection",
                          k_index: dict[int, tuple[int, ...]] | None = None) -> float:
    """Best operating profit per step [$] of a model (raw_flop, eoom_pre) against current rivals.
    The whole k grid is searched, or, for a task type in ``k_index`` (the lab's current grid indices),
    the grid within ``PROJECTION_K_WINDOW`` steps of them. ``context`` (e.g. "step 4, lab 'OpenAI'")
    prefixes the error raised if a price does not converge."""
    total = 0.0
    for index, market in enumerate(markets):
        stride = max(1, market.users.count // PROJECTION_USERS)
        hint = current_prices[index] if current_prices is not None else (lambda k, cost: 0.0)
        candidates = k_grid
        if k_index is not None and index in k_index:
            low = max(0, min(k_index[index]) - PROJECTION_K_WINDOW)
            candidates = k_grid[low:max(k_index[index]) + PROJECTION_K_WINDOW + 1]
        [best] = market.best_response(lab_id, raw_flop, eoom_pre, [(k,) for k in candidates], hint,
                                      user_stride=stride, screen=True)
        if best.iterations < 0 or not np.isfinite(best.profit):
            raise SimulationError(f"{context}, task '{market.task.name}': the projected best-response price "
                                  "did not converge")
        total += max(0.0, best.profit)
    return total


def training_options(model, lab) -> list[TrainingOption]:
    """Affordable next models for ``lab``: raw compute ``C_current x multiples`` and, when IDA is
    enabled, IDA compute ``C_ida = C_raw x ida multiples`` (docs/ODD.md §7.6-§7.11 steps 2-3).

    eoom_pre = L4(C_raw, A(now)) + exchange_rate * log10(1 + C_ida / C_raw) (the IDA gain is not
    capped by the data wall); cost = C_raw / training FLOP per $ + C_ida / inference FLOP per $.
    An option is affordable when its cost is at most cash plus financing capacity.
    """
    scenario = model.config
    trends = model.trends
    cap = scenario.capability
    k_grid = model.k_grid
    hints = [lab.price_hint(i) for i in range(len(model.markets))]
    current = lab.deployed
    context = f"step {model.step_index}, lab '{lab.name}' (training projection)"
    keep_profit = projected_step_profit(model.markets, lab.lab_id, current.raw_flop, current.eoom_pre, k_grid,
                                        hints, context, lab.k_index)
    cycle = scenario.labs.model_cycle
    options = [TrainingOption(0.0, 0.0, current.raw_flop, 0.0, current.eoom_pre, cycle * keep_profit, 0.0, 0.0)]
    ida_multiples = scenario.ida.multiples if scenario.ida.enabled else [0.0]
    budget = lab.financing_capacity()
    for multiple in scenario.labs.training_multiples:
        if multiple == 0:
            continue
        raw = current.raw_flop * multiple
        base_eoom = laws.pretraining_eoom(raw, trends.algo_eff, cap.data_wall_eoom, cap.post_wall_returns)
        for ida_multiple in ida_multiples:
            ida_flop = raw * ida_multiple
            cost = laws.training_cost(raw, trends.training_fpd) + ida_flop / trends.inference_fpd
            if cost > budget:
                continue
            eoom = base_eoom + laws.ida_gain(scenario.ida.exchange_rate, ida_flop, raw)
            candidate = model.new_trained_model(lab, raw, ida_flop, eoom, cost)
            compliance = (model.regulator.compliance_cost
                          if model.regulator.would_regulate(candidate, trends.algo_eff) else 0.0)
            profit = projected_step_profit(model.markets, lab.lab_id, raw, eoom, k_grid, hints, context,
                                           lab.k_index)
            options.append(TrainingOption(multiple, ida_multiple, raw, ida_flop, eoom, cycle * profit, cost,
                                          compliance))
    return options

