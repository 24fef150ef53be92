"""One compiled call per round of best responses on a market (docs/ODD.md §7.6 "Equilibrium", E1; §7.7).

On one task type the labs best-respond in turn (Gauss-Seidel, in the order given). Lab ``l`` takes its
rivals' log-sums from the market's kept log-sums (:mod:`aimarket.simulation.kernels.denominators`,
``R_i = L_i + log(1 - S_i)``), chooses its offers and their prices against them, and its offers enter the
table and the log-sums (``L_i = logaddexp(R_i, own terms)``; an exact recompute after ``REFRESH_UPDATES``
updates) before the next lab moves. Its operating profit per step is
``Pi_l = T * sum_o ((1 - phi) p_o - c_o) S_o`` (as in :mod:`aimarket.simulation.kernels.best_response`).

* :func:`_reprice_round`, a round after the search rounds: each lab only re-solves the prices of its
  current offers (D3), several offers warm-started from their current prices;
* :func:`_search_round`, a search round: each lab screens its candidate product sets, solves the most
  profitable (:func:`aimarket.simulation.kernels.best_response._best_response_sets_kernel`) and its
  offers become that set's products.

Either is what :meth:`aimarket.simulation.market.TaskMarket.best_response` followed by
:meth:`~aimarket.simulation.market.TaskMarket.replace_lab_offers` computes for each lab in turn, with the
same kernels in the same order (the same bits), without returning to Python between labs. The
plain-Python references are in :mod:`aimarket.simulation.reference.rounds`.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from aimarket.simulation.kernels.best_response import _best_response_sets_kernel, _profit, _solve_set
from aimarket.simulation.kernels.choice import NO_OWNER, _rival_log_sum_kernel
from aimarket.simulation.kernels.denominators import REFRESH_UPDATES, _add_offers_kernel, _remove_lab_kernel
from aimarket.simulation.kernels.inputs import _vector, table_inputs
from aimarket.simulation.kernels.single_offer import NOT_CONVERGED
from aimarket.simulation.kernels.terms import LOGIT_TERMS
from aimarket.simulation.numba_cache import kernel_sources, renew_when_changed

SOLVED, FAILED, NOT_FINITE = 0, 1, 2  # outcome of a lab's solve
DAMPINGS = (1.0, 0.5, 0.25)  # Newton's step dampings tried in turn, as TaskMarket.best_response's


@njit(cache=True)
def _rivals(gross, mu, inv_mu, switching, provider, outside, price, owner, lab, logsum, state, columns, rival,
            is_provider, terms):
    """Writes ``lab``'s offer columns into ``columns`` (returns their count), its rivals' log-sums into
    ``rival`` and its customers into ``is_provider``; recomputes the kept log-sums first when stale."""
    t = 0
    for o in range(owner.shape[0]):
        if owner[o] == lab:
            columns[t] = o
            t += 1
    if state[0] == 0:  # the kept log-sums are stale: recompute them exactly over the whole table
        _rival_log_sum_kernel(gross, mu, switching, provider, outside, price, owner, NO_OWNER, logsum, terms)
        state[0] = 1
    _remove_lab_kernel(gross, mu, inv_mu, switching, provider, outside, price, owner, lab, logsum, rival, terms)
    for i in range(provider.shape[0]):
        is_provider[i] = provider[i] == lab
    return t


@njit(cache=True)
def _enter_offers(gross, own, inv_mu, switching, is_provider, rival, new_price, price, logsum, state, terms):
    """The lab's new prices enter the table (its columns ``own``) and the kept log-sums (D2, §7.6). Returns
    the largest relative price change ``|p_new - p_old| / |p_old|`` (E1's residual)."""
    n = gross.shape[0]
    t = own.shape[0]
    change = 0.0
    for j in range(t):
        change = max(change, abs(new_price[j] - price[own[j]]) / max(abs(price[own[j]]), 1e-300))
        price[own[j]] = new_price[j]
    if state[1] + 1 >= REFRESH_UPDATES:  # then the log-sums are recomputed exactly, when next needed
        state[0] = 0
        state[1] = 0
        return change
    own_gross = np.empty((n, t))
    for i in range(n):
        for j in range(t):
            own_gross[i, j] = gross[i, own[j]]
    _add_offers_kernel(rival, own_gross, inv_mu, switching, is_provider, new_price, logsum, terms)
    state[1] += 1
    return change


@njit(cache=True)
def _outcome(iterations, prices, shares):
    """SOLVED, or FAILED (Newton did not converge) or NOT_FINITE (a non-finite price or share)."""
    if iterations == NOT_CONVERGED:
        return FAILED
    for j in range(prices.shape[0]):
        if not (math.isfinite(prices[j]) and math.isfinite(shares[j])):
            return NOT_FINITE
    return SOLVED


@njit(cache=True)
def _workspace(gross, mu):
    """(1 / mu, rivals' log-sums, customers of the moving lab, its columns): a round's scratch arrays."""
    n, m = gross.shape
    return 1.0 / mu, np.empty(n), np.empty(n, dtype=np.bool_), np.empty(m, dtype=np.int64)


@njit(cache=True)
def _reprice_round(gross, mu, switching, provider, outside, price, owner, cost, keep, tasks_per_step, labs, logsum,
                   state, tol, max_iter, dampings, out_share, out_profit, out_iterations, out_change, terms):
    """Reprices ``labs`` (L,) in turn on one market; see the module docstring.

    gross (n, m), owner, cost [$/task] and price [$/task] (m,) are the offer table; ``price`` is updated
    in place, and ``out_share`` (m,) receives each repriced offer's mean share. ``logsum`` (n) holds the
    users' log-sums over the table when ``state[0]`` is 1 (else they are recomputed exactly first) and
    ``state[1]`` counts the incremental updates since the last exact recompute; both are updated.
    ``out_profit``, ``out_iterations`` and ``out_change`` (L,) receive each lab's profit, Newton iterations
    and largest relative price change.
    Returns ``(lab position, outcome)``: the first lab whose solve failed (``FAILED``: no convergence;
    ``NOT_FINITE``: a non-finite price or share) or ``(-1, SOLVED)``; labs after a failure keep their prices.
    """
    n = gross.shape[0]
    inv_mu, rival, is_provider, columns = _workspace(gross, mu)
    priced_cost = cost / keep
    for position in range(labs.shape[0]):
        t = _rivals(gross, mu, inv_mu, switching, provider, outside, price, owner, labs[position], logsum, state,
                    columns, rival, is_provider, terms)
        own = columns[:t].copy()
        init = price[own]
        new_price = np.empty(t)
        new_share = np.empty(t)
        out_iterations[position] = _solve_set(gross, mu, inv_mu, switching, is_provider, rival, priced_cost, own, init,
                                              tol, max_iter, dampings, True, np.empty((n, t)), np.empty(t), new_price,
                                              new_share, terms)
        outcome = _outcome(out_iterations[position], new_price, new_share)
        if outcome != SOLVED:
            return position, outcome
        out_profit[position] = _profit(new_price, new_share, cost, own, keep, tasks_per_step)
        for j in range(t):
            out_share[own[j]] = new_share[j]
        out_change[position] = _enter_offers(gross, own, inv_mu, switching, is_provider, rival, new_price, price,
                                             logsum, state, terms)
    return -1, SOLVED


@njit(cache=True)
def _search_round(gross, mu, switching, provider, outside, price, owner, cost, eoom, variant, k, keep, tasks_per_step,
                  labs, set_start, sets, init, products, logsum, state, tol, max_iter, dampings, screen_iterations,
                  out_price, out_share, out_profit, out_iterations, out_chosen, out_change, terms):
    """Lets ``labs`` (L,) in turn screen their candidate sets and take the best on one market; see the
    module docstring.

    The offer table is gross (n, m) and owner, variant, k, eoom [eOOM], cost [$/task], price [$/task] (m,),
    all updated in place: a lab's offers keep their columns (each lab's sets have as many products as it has
    offers). Lab ``labs[l]``'s sets are rows ``set_start[l]:set_start[l + 1]`` of ``sets`` (S, t), columns of
    the products table ``products = (gross (n, P), cost (P,), eoom (P,), variant (P,), k (P,))``, with starting
    prices ``init`` (S, t). ``logsum`` and ``state`` as in :func:`_reprice_round`. Writes every set's prices,
    shares, profit and iterations (screened, or solved for the chosen one), each lab's chosen row (relative to
    its first) into ``out_chosen`` (L,) and its largest relative price change into ``out_change`` (L,; infinite
    where its products changed); returns ``(lab position, outcome)`` as :func:`_reprice_round`.
    """
    product_gross, product_cost, product_eoom, product_variant, product_k = products
    n = gross.shape[0]
    inv_mu, rival, is_provider, columns = _workspace(gross, mu)
    priced_cost = product_cost / keep
    for position in range(labs.shape[0]):
        t = _rivals(gross, mu, inv_mu, switching, provider, outside, price, owner, labs[position], logsum, state,
                    columns, rival, is_provider, terms)
        own = columns[:t].copy()
        first, last = set_start[position], set_start[position + 1]
        chosen = _best_response_sets_kernel(product_gross, mu, switching, is_provider, rival, product_cost,
                                            priced_cost, sets[first:last], init[first:last], tol, max_iter, dampings,
                                            False, True, screen_iterations, keep, tasks_per_step,
                                            out_price[first:last], out_share[first:last], out_profit[first:last],
                                            out_iterations[first:last], terms)
        chosen = max(chosen, 0)  # a lone set is solved without screening
        out_chosen[position] = chosen
        s = first + chosen
        outcome = _outcome(out_iterations[s], out_price[s], out_share[s])
        if outcome != SOLVED:
            return position, outcome
        moved = False
        for j in range(t):
            o = own[j]
            c = sets[s, j]
            moved = moved or variant[o] != product_variant[c] or k[o] != product_k[c]
            for i in range(n):
                gross[i, o] = product_gross[i, c]
            cost[o] = product_cost[c]
            eoom[o] = product_eoom[c]
            variant[o] = product_variant[c]
            k[o] = product_k[c]
        change = _enter_offers(gross, own, inv_mu, switching, is_provider, rival, out_price[s], price, logsum, state,
                               terms)
        out_change[position] = math.inf if moved else change
    return -1, SOLVED


def reprice_round(gross, mu, switching, provider, outside, price, owner, cost, keep: float, tasks_per_step: float,
                  labs, logsum, state, tol: float, max_iter: int, out_share, out_profit, out_iterations, out_change, *,
                  validate: bool = True) -> tuple[int, int]:
    """One repricing round of ``labs`` on one market (see :func:`_reprice_round` for the arguments, which are
    updated in place); returns ``(lab position, outcome)``.
    ``validate=False`` skips the input checks, for callers that pass arrays already checked."""
    if validate:
        gross, mu, switching, provider, outside, price, owner = table_inputs(gross, mu, switching, provider, outside,
                                                                             price, owner)
        cost = _vector(cost, "cost", size=price.size)
        logsum = _vector(logsum, "logsum", size=mu.size) if state[0] else logsum
        if not 0 < keep <= 1:
            raise ValueError(f"keep must be in (0, 1] (got {keep})")
    position, outcome = _reprice_round(gross, mu, switching, provider, outside, price, owner, cost, float(keep),
                                       float(tasks_per_step), np.ascontiguousarray(labs, dtype=np.int64), logsum,
                                       state, float(tol), int(max_iter), np.array(DAMPINGS), out_share, out_profit,
                                       out_iterations, out_change, LOGIT_TERMS)
    return int(position), int(outcome)


def search_round(table, keep: float, tasks_per_step: float, labs, set_start, sets, init, products, logsum, state,
                 tol: float, max_iter: int, screen_iterations: int, out_price, out_share, out_profit, out_iterations,
                 out_chosen, out_change) -> tuple[int, int]:
    """One search round of ``labs`` on one market (see :func:`_search_round`); ``table`` is the offer table
    ``(gross, mu, switching, provider, outside, price, owner, cost, eoom, variant, k)`` as the market holds it
    (checked when it was set), updated in place. Returns ``(lab position, outcome)``."""
    return tuple(int(x) for x in _search_round(
        *table, float(keep), float(tasks_per_step), np.ascontiguousarray(labs, dtype=np.int64), set_start, sets, init,
        products, logsum, state, float(tol), int(max_iter), np.array(DAMPINGS), int(screen_iterations), out_price,
        out_share, out_profit, out_iterations, out_chosen, out_change, LOGIT_TERMS))


renew_when_changed(globals(), __file__, *kernel_sources(__file__))  # see numba_cache
