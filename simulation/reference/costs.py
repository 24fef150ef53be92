"""Plain-Python twin of :mod:`aimarket.simulation.kernels.costs` (L7-L9)."""

from __future__ import annotations

from aimarket.simulation.reference.laws import marginal_cost_per_task


def marginal_costs(active_params, tokens, k_grid, inference_fpd):
    return [[[marginal_cost_per_task(n, tok, k, inference_fpd) for k in k_grid] for tok in tokens]
            for n in active_params]
