"""Marginal cost per task of every model, task type and inference multiplier (docs/ODD.md §7.3, L7-L9), and
the capability and cost of a lab's products on one task type (L5, L9)."""

from __future__ import annotations

import numpy as np
from numba import njit

from aimarket.simulation.kernels.inputs import _vector
from aimarket.simulation.laws import inference_gain, marginal_cost_per_task
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


@njit(cache=True)
def _product_terms_kernel(eoom_pre, active_params, variant, k, alpha, kappa, tokens, inference_fpd, out_eoom, out_cost):
    """out_eoom[j] = E_pre[v_j] + G(k_j; alpha, kappa) (L5) [eOOM] and out_cost[j] = 2 N_active[v_j] tokens k_j / F_inf
    (L9) [$/task] of the products (v_j, k_j), v_j indexing the model variants."""
    for j in range(k.shape[0]):
        out_eoom[j] = eoom_pre[variant[j]] + inference_gain(k[j], alpha, kappa)
        out_cost[j] = marginal_cost_per_task(active_params[variant[j]], tokens, k[j], inference_fpd)


def product_terms(eoom_pre, active_params, variant, k, alpha: float, kappa: float, tokens: float,
                  inference_fpd: float) -> tuple[np.ndarray, np.ndarray]:
    """Capability [eOOM] and marginal cost [$/task] of products (``variant`` (P,) indexing ``eoom_pre`` and
    ``active_params`` (variants,), inference multiplier ``k`` (P,)) on a task type of slope ``alpha``,
    saturation ``kappa`` and ``tokens`` base tokens per task, at ``inference_fpd`` inference FLOP per $."""
    variant = np.ascontiguousarray(variant, dtype=np.int64)
    k = np.ascontiguousarray(k, dtype=np.float64)
    eoom = np.empty(k.size)
    cost = np.empty(k.size)
    _product_terms_kernel(np.asarray(eoom_pre, dtype=np.float64), np.asarray(active_params, dtype=np.float64),
                          variant, k, float(alpha), float(kappa), float(tokens), float(inference_fpd), eoom, cost)
    return eoom, cost


renew_when_changed(globals(), __file__, *kernel_sources(__file__))  # see numba_cache
