"""One compiled call per best response: screening of a lab's candidate product sets and the final solve
(docs/ODD.md §7.6 "Best response", §7.7).

A lab's best response on a task type weighs ``S`` candidate sets of ``t`` products each (model variant
and inference multiplier; the columns of ``gross`` and ``cost``). For each set ``s`` the Bertrand prices
against fixed rivals (D3) are solved by :func:`aimarket.simulation.kernels.prices._price_kernel`, and its
operating profit per step is

    Pi_s = T * sum_o ((1 - phi) p_so - c_so) S_so,

with ``T`` tasks per step, ``phi`` the revenue share of opex (priced as a marginal cost ``c / (1 - phi)``)
and ``S_so`` the mean share. Without screening every set is solved to tolerance. With screening, every
set gets ``screen_iterations`` Newton steps (damping 1, cold start), the most profitable (the first on a
tie) is kept and, unless it has already converged, solved to tolerance from its screened prices (warm
start), trying the dampings in turn. The plain-Python reference is
:func:`aimarket.simulation.reference.best_response.best_response_sets`.

Numba's cache (``cache=True``) of this module holds compiled copies of the kernels it calls;
:mod:`aimarket.simulation.numba_cache` renews it when a module of the kernels package (or
:mod:`~aimarket.simulation.laws`) changes.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from aimarket.simulation.kernels.choice import _log_odds
from aimarket.simulation.kernels.inputs import _matrix, price_inputs
from aimarket.simulation.kernels.prices import _price_kernel
from aimarket.simulation.kernels.single_offer import NOT_CONVERGED
from aimarket.simulation.kernels.terms import LOGIT_TERMS
from aimarket.simulation.numba_cache import kernel_sources, renew_when_changed


@njit(cache=True)
def _solve_set(gross_all, mu, inv_mu, switching, is_provider, rival, cost_all, columns, init, tol, max_iter, dampings,
               warm, odds, own_cost, out_price, out_share, terms):
    """Prices of one set (its ``columns`` of ``gross_all``), trying ``dampings`` in turn; returns iterations.
    ``odds`` (n, t) and ``own_cost`` (t,) are scratch."""
    for o in range(columns.shape[0]):
        own_cost[o] = cost_all[columns[o]]
    _log_odds(gross_all, columns, inv_mu, switching, is_provider, rival, cost_all, odds)
    iterations = NOT_CONVERGED
    for d in range(dampings.shape[0]):
        iterations = _price_kernel(odds, mu, inv_mu, own_cost, init, tol, max_iter, dampings[d], warm, out_price,
                                   out_share, terms)
        if iterations != NOT_CONVERGED:
            break
    return iterations


@njit(cache=True)
def _profit(price, share, cost_all, columns, keep, tasks_per_step):
    """Pi = T * sum_o (keep p_o - c_o) S_o over the set's ``columns``."""
    total = 0.0
    for o in range(columns.shape[0]):
        total += (keep * price[o] - cost_all[columns[o]]) * share[o]
    return total * tasks_per_step


@njit(cache=True)
def _best_response_sets_kernel(gross_all, mu, switching, is_provider, rival, cost_all, priced_cost, sets, init, tol,
                               max_iter, dampings, warm, screen, screen_iterations, keep, tasks_per_step,
                               out_price, out_share, out_profit, out_iterations, terms):
    """Solves (``screen`` false) or screens and solves (``screen`` true) the ``sets`` (S, t) of column
    indices; writes prices, shares (S, t), profits and iterations (S,) of every set evaluated and returns
    the index of the chosen set (-1 without screening: every set is solved)."""
    n = gross_all.shape[0]
    count, t = sets.shape
    inv_mu = 1.0 / mu
    market = (gross_all, mu, inv_mu, switching, is_provider, rival, priced_cost)
    odds = np.empty((n, t))
    own_cost = np.empty(t)
    if not screen or count == 1:
        for s in range(count):
            out_iterations[s] = _solve_set(*market, sets[s], init[s], tol, max_iter, dampings, warm, odds, own_cost,
                                           out_price[s], out_share[s], terms)
            out_profit[s] = _profit(out_price[s], out_share[s], cost_all, sets[s], keep, tasks_per_step)
        return -1
    one = np.ones(1)
    best = 0
    for s in range(count):
        out_iterations[s] = _solve_set(*market, sets[s], init[s], tol, screen_iterations, one, False, odds, own_cost,
                                       out_price[s], out_share[s], terms)
        out_profit[s] = _profit(out_price[s], out_share[s], cost_all, sets[s], keep, tasks_per_step)
        if out_profit[s] > out_profit[best]:
            best = s
    if out_iterations[best] > 0:
        return best
    start = out_price[best].copy()
    out_iterations[best] = _solve_set(*market, sets[best], start, tol, max_iter, dampings, True, odds, own_cost,
                                      out_price[best], out_share[best], terms)
    out_profit[best] = _profit(out_price[best], out_share[best], cost_all, sets[best], keep, tasks_per_step)
    return best


def best_response_sets(gross_all, mu, switching, is_provider, rival, cost, sets, init, *, tol: float = 1e-12,
                       max_iter: int = 500, dampings=(1.0, 0.5, 0.25), warm: bool = False, screen: bool = False,
                       screen_iterations: int = 2, keep: float = 1.0, tasks_per_step: float = 1.0,
                       validate: bool = True):
    """Best-response prices of a lab's candidate sets in one call (see the module docstring).

    gross_all: (n, P) gross utility of each distinct product; cost: (P,) marginal cost per task [$];
    sets: (S, t) product columns of each set; init: (S, t) starting prices [$]; keep: 1 - phi.
    Returns ``(prices (S, t), shares (S, t), profits (S,), iterations (S,), chosen)``; ``chosen`` is the
    index of the screened winner (its row is solved to tolerance) or -1 without screening.
    """
    sets = np.ascontiguousarray(sets, dtype=np.int64)
    if validate:
        gross_all, mu, switching, is_provider, rival, cost = price_inputs(gross_all, mu, switching, is_provider,
                                                                          rival, cost, "gross_all")
        if sets.ndim != 2 or sets.shape[0] < 1 or sets.shape[1] < 1 or np.any(sets < 0) or np.any(sets >= cost.size):
            raise ValueError("sets must be a non-empty (S, t) array of product columns")
        init = _matrix(init, "init", sets.shape)
        if not 0 < keep <= 1:
            raise ValueError(f"keep must be in (0, 1] (got {keep})")
    count, t = sets.shape
    prices = np.empty((count, t))
    shares = np.empty((count, t))
    profits = np.empty(count)
    iterations = np.empty(count, dtype=np.int64)
    chosen = _best_response_sets_kernel(gross_all, mu, switching, is_provider, rival, cost, cost / keep, sets,
                                        np.ascontiguousarray(init, dtype=np.float64), float(tol), int(max_iter),
                                        np.asarray(dampings, dtype=np.float64), bool(warm), bool(screen),
                                        int(screen_iterations), float(keep), float(tasks_per_step), prices,
                                        shares, profits, iterations, LOGIT_TERMS)
    return prices, shares, profits, iterations, int(chosen)


@njit(cache=True)
def _screened_groups_kernel(gross_all, mu, switching, is_provider, rival, cost_all, priced_cost, sets, init,
                            group_start, tol, max_iter, dampings, screen_iterations, keep, tasks_per_step, out_price,
                            out_share, out_profit, out_iterations, out_chosen, terms):
    """Screens and solves each group of sets, rows ``group_start[g]:group_start[g + 1]`` of ``sets``, as
    :func:`_best_response_sets_kernel` with ``screen``; ``out_chosen[g]`` is the group's chosen row (relative
    to its first; a lone set is solved without screening)."""
    for g in range(group_start.shape[0] - 1):
        first, last = group_start[g], group_start[g + 1]
        chosen = _best_response_sets_kernel(gross_all, mu, switching, is_provider, rival, cost_all, priced_cost,
                                            sets[first:last], init[first:last], tol, max_iter, dampings, False, True,
                                            screen_iterations, keep, tasks_per_step, out_price[first:last],
                                            out_share[first:last], out_profit[first:last],
                                            out_iterations[first:last], terms)
        out_chosen[g] = max(chosen, 0)


def screened_groups(gross_all, mu, switching, is_provider, rival, cost, sets, init, group_start, *,
                    tol: float = 1e-12, max_iter: int = 500, screen_iterations: int = 2, keep: float = 1.0,
                    tasks_per_step: float = 1.0):
    """:func:`best_response_sets` with ``screen`` for each of several groups of sets in one call (the same
    lab against the same rivals, e.g. one group per model it might train): group ``g`` is rows
    ``group_start[g]:group_start[g + 1]`` of ``sets``. The arrays are taken as checked (the caller's).
    Returns ``(prices (S, t), shares (S, t), profits (S,), iterations (S,), chosen (G,))``, ``chosen[g]`` the
    winner's row relative to the group's first."""
    count, t = sets.shape
    prices = np.empty((count, t))
    shares = np.empty((count, t))
    profits = np.empty(count)
    iterations = np.empty(count, dtype=np.int64)
    chosen = np.empty(len(group_start) - 1, dtype=np.int64)
    _screened_groups_kernel(gross_all, mu, switching, is_provider, rival, cost, cost / keep, sets, init,
                            np.asarray(group_start, dtype=np.int64), float(tol), int(max_iter),
                            np.array((1.0, 0.5, 0.25)), int(screen_iterations), float(keep), float(tasks_per_step),
                            prices, shares, profits, iterations, chosen, LOGIT_TERMS)
    return prices, shares, profits, iterations, chosen


renew_when_changed(globals(), __file__, *kernel_sources(__file__))  # see numba_cache
