"""Bertrand best-response prices of one lab's offers against fixed rivals (docs/ODD.md §7.6-§7.10, D3):
the start (a common markup), the single- and multi-offer solves, and the public wrapper. The reference
is :mod:`aimarket.simulation.reference.prices`.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from aimarket.simulation.kernels.choice import _log_odds
from aimarket.simulation.kernels.inputs import _vector, price_inputs
from aimarket.simulation.kernels.multi_offer import _lab_shares, _multi_offer_newton
from aimarket.simulation.kernels.single_offer import NOT_CONVERGED, _best_single_offer
from aimarket.simulation.kernels.terms import LOGIT_TERMS
from aimarket.simulation.numba_cache import kernel_sources, renew_when_changed


@njit(cache=True)
def _price_kernel(odds, mu, inv_mu, cost, price_init, tol, max_iter, damping, warm, out_price, out_share, terms):
    """Bertrand best-response prices of one lab's ``t`` offers against fixed rivals.

    Solves the multi-product logit first-order conditions (D3 of docs/ODD.md) in the markups
    ``m = p - c``:

        S_o - Lambda_o m_o + sum_o' Gamma_oo' m_o' = 0,
        S_o = sum_i P_io,  Lambda_o = sum_i P_io / mu_i,  Gamma_oo' = sum_i P_io P_io' / mu_i,

    for one offer ``p = c + sum_i P_i / sum_i P_i (1 - P_i) / mu_i`` (docs/ODD.md §7.7-§7.10), and with
    homogeneous users ``p - c = mu / (1 - sum of the lab's shares)``. The offers enter through their
    log-odds at zero markup against the rivals, ``odds`` (n, t) (:func:`aimarket.simulation.kernels.choice._log_odds`),
    and ``inv_mu = 1 / mu``. One offer: bracketed Newton (:func:`_single_offer_newton`) with a global scan of
    the markup; several: from the best common markup (the lab's offers as one offer whose log-odds are the
    log-sum-exp of theirs), Newton with a Levenberg-Marquardt shift and backtracking on profit
    (:func:`_multi_offer_newton`). Steps start at ``damping``.
    With ``warm`` and several offers whose starting markups are all positive, Newton starts from
    ``price_init`` itself (a warm start near the solution: a repricing round, docs/ODD.md §7.6) and the
    common-markup start is used only if that does not converge.
    An offer whose mean share is below ``NEGLIGIBLE_SHARE`` sells (almost) nothing at any nearby
    price, so its markup does not affect profit and is left out of the convergence test.
    Stops when every price moves by less than ``tol`` relative. Writes prices and mean shares;
    returns the number of iterations, or -1 if ``max_iter`` was reached.
    """
    n, t = odds.shape
    markup = np.empty(t)
    mean_mu = 0.0
    for i in range(n):
        mean_mu += mu[i]
    mean_mu /= n
    for o in range(t):
        markup[o] = price_init[o] - cost[o]
        if not markup[o] > 0.0:
            markup[o] = mean_mu
    if t == 1:
        markup[0], iterations, out_share[0] = _best_single_offer(odds[:, 0], mu, inv_mu, cost[0], markup[0], tol,
                                                                 max_iter, damping, terms)
        out_price[0] = cost[0] + markup[0]
        return iterations
    if warm:
        positive = True
        for o in range(t):
            positive = positive and price_init[o] - cost[o] > 0.0
        if positive:
            iterations = _multi_offer_newton(odds, inv_mu, cost, markup, tol, max_iter, damping, out_share, terms)
            if iterations != NOT_CONVERGED:
                for o in range(t):
                    out_price[o] = cost[o] + markup[o]
                return iterations
            for o in range(t):
                markup[o] = price_init[o] - cost[o]
    # Start from the best common markup (see _inclusive_odds), solved globally like a single offer;
    # Newton then moves the markups apart.
    inclusive = _inclusive_odds(odds, terms)
    start = 0.0
    for o in range(t):
        start += markup[o]
    common, start_iterations, _ = _best_single_offer(inclusive, mu, inv_mu, 0.0, start / t, tol, max_iter, damping,
                                                     terms)
    iterations = NOT_CONVERGED
    if start_iterations != NOT_CONVERGED:
        for o in range(t):
            markup[o] = common
        iterations = _multi_offer_newton(odds, inv_mu, cost, markup, tol, max_iter, damping, out_share, terms)
        if iterations != NOT_CONVERGED:
            iterations += start_iterations
    else:  # the start did not converge: the shares at the starting markups
        _lab_shares(odds, inv_mu, markup, out_share, np.empty(t), terms)
        for o in range(t):
            out_share[o] /= n
    for o in range(t):
        out_price[o] = cost[o] + markup[o]
    return iterations


@njit(cache=True)
def _inclusive_odds(odds, terms):
    """a_i = log sum_o exp(odds_io): with one markup m on every offer, the lab's offers act as one offer
    with these log-odds at zero markup (exact for homogeneous users)."""
    n, t = odds.shape
    inclusive = np.empty(n)
    for i in range(n):
        top = odds[i, 0]
        for o in range(1, t):
            top = max(top, odds[i, o])
        total = 0.0
        for o in range(t):
            total += math.exp(odds[i, o] - top)
        inclusive[i] = top + math.log(total)
    terms[0] += n * t
    return inclusive


def best_response_prices(gross, mu, switching, is_provider, rival, cost, price_init,
                         tol: float = 1e-12, max_iter: int = 500, *, validate: bool = True,
                         dampings: tuple[float, ...] = (1.0, 0.5, 0.25), warm: bool = False):
    """Profit-maximising prices of one lab's ``t`` offers given the rivals' log-sums ``rival`` (n,).

    gross: (n, t) gross utility ``v_i P_i(E_o) + mu_i xi_o`` of each own offer (D1, :func:`gross_utility`);
    cost: (t,) marginal cost per task [$]; price_init: (t,) warm start [$].
    Returns ``(prices, mean_shares, iterations)``; ``iterations`` is -1 when the fixed point did
    not converge with any of ``dampings`` (the caller names step, lab and task in its error).
    ``validate=False`` skips the input checks, for callers that pass arrays already checked.
    A small ``max_iter`` with ``dampings=(1.0,)`` gives a cheap approximate solve (screening).
    ``warm``: several offers start Newton from ``price_init`` (a start near the solution), see
    :func:`_price_kernel`.
    """
    if validate:
        gross, mu, switching, is_provider, rival, cost = price_inputs(gross, mu, switching, is_provider, rival, cost)
        price_init = _vector(price_init, "price_init", size=cost.size)
    inv_mu = 1.0 / mu
    odds = np.empty(gross.shape)
    _log_odds(gross, np.arange(cost.size), inv_mu, switching, is_provider, rival, cost, odds)
    prices = np.empty(cost.size)
    shares = np.empty(cost.size)
    iterations = NOT_CONVERGED
    for damping in dampings:
        iterations = _price_kernel(odds, mu, inv_mu, cost, price_init, tol, max_iter, damping, bool(warm), prices,
                                   shares, LOGIT_TERMS)
        if iterations != NOT_CONVERGED:
            break
    return prices, shares, iterations


renew_when_changed(globals(), __file__, *kernel_sources(__file__))  # see numba_cache
