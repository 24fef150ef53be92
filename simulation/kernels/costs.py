"""Marginal cost per task of every model, task type and inference multiplier (docs/ODD.md §7.3, L7-L9)."""

from __future__ import annotations

import numpy as np
from numba import njit

from aimarket.simulation.kernels.inputs import _vector
from aimarket.simulation.laws import marginal_cost_per_task
from aimarket.simulation.numba_cache import kernel_sources, renew_when_changed


@njit(cache=True)
def _marginal_cost_kernel(active_params, tokens, k_grid, inference_fpd, out):
    """out[l, t, j] = 2 * N_active_l * tokens_t * k_j / F_inf  (L7-L9)  [$/task]."""
    for lab in range(active_params.shape[0]):
        for task in range(tokens.shape[0]):
            for j in range(k_grid.shape[0]):
                out[lab, task, j] = marginal_cost_per_task(active_params[lab], tokens[task], k_grid[j], inference_fpd)


def marginal_costs(active_params: np.ndarray, tokens: np.ndarray, k_grid: np.ndarray,
                   inference_fpd: float) -> np.ndarray:
    """Marginal cost per task for every model x task type x inference multiplier [$/task].

    active_params: (models,) parameters active per token of each served model (L7b);
    tokens: (tasks,) base tokens per task; k_grid: (K,) inference multipliers (>= 1);
    inference_fpd: inference FLOP per USD at this step. Returns an array (models, tasks, K).
    """
    active_params = _vector(active_params, "active_params", positive=True)
    tokens = _vector(tokens, "tokens", positive=True)
    k_grid = _vector(k_grid, "k_grid", positive=True)
    if not inference_fpd > 0:
        raise ValueError(f"inference_fpd must be > 0 (got {inference_fpd})")
    out = np.empty((active_params.size, tokens.size, k_grid.size))
    _marginal_cost_kernel(active_params, tokens, k_grid, float(inference_fpd), out)
    return out


renew_when_changed(globals(), __file__, *kernel_sources(__file__))  # see numba_cache
