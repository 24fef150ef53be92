"""Bertrand best-response prices of one lab's offers against fixed rivals (docs/ODD.md §7.6-§7.10, D3):
the start (a common markup), the single- and multi-offer solves, and the public wrapper. The reference
is :mod:`aimarket.simulation.reference.prices`.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from aimarket.simulation.kernels.choice import _own_probabilities
from aimarket.simulation.kernels.inputs import _vector, price_inputs
from aimarket.simulation.kernels.multi_offer import _multi_offer_newton
from aimarket.simulation.kernels.single_offer import NOT_CONVERGED, _best_single_offer
from aimarket.simulation.kernels.terms import LOGIT_TERMS
from aimarket.simulation.numba_cache import kernel_sources, renew_when_changed


@njit(cache=True)
def _price_kernel(gross, mu, switching, is_provider, rival, cost, price_init, tol, max_iter,
                  damping, warm, out_price, out_share, terms):
    """Bertrand best-response prices of one lab's ``t`` offers against fixed rivals.

    Solves the multi-product logit first-order conditions (D3 of docs/ODD.md) in the markups
    ``m = p - c``:

        S_o - Lambda_o m_o + sum_o' Gamma_oo' m_o' = 0,
        S_o = sum_i P_io,  Lambda_o = sum_i P_io / mu_i,  Gamma_oo' = sum_i P_io P_io' / mu_i,

    for one offer ``p = c + sum_i P_i / sum_i P_i (1 - P_i) / mu_i`` (docs/ODD.md §7.7-§7.10), and with
    homogeneous users ``p - c = mu / (1 - sum of the lab's shares)``. One offer: bracketed Newton
    (:func:`_single_offer_newton`) with a global scan of the markup; several: from the best common
    markup (the lab's offers as one offer of inclusive value), Newton with a Levenberg-Marquardt shift
    and backtracking on profit (:func:`_multi_offer_newton`). Steps start at ``damping``.
    With ``warm`` and several offers whose starting markups are all positive, Newton starts from
    ``price_init`` itself (a warm start near the solution: a repricing round, docs/ODD.md §7.6) and the
    common-markup start is used only if that does not converge.
    An offer whose mean share is below ``NEGLIGIBLE_SHARE`` sells (almost) nothing at any nearby
    price, so its markup does not affect profit and is left out of the convergence test.
    Stops when every price moves by less than ``tol`` relative. Writes prices and mean shares;
    returns the number of iterations, or -1 if ``max_iter`` was reached.
    """
    n = gross.shape[0]
    t = cost.shape[0]
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
        markup[0], iterations, out_share[0] = _best_single_offer(
            gross[:, 0], mu, switching, is_provider, rival, cost[0], markup[0], tol, max_iter, damping, terms)
        out_price[0] = cost[0] + markup[0]
        return iterations
    prob = np.empty((n, t))
    if warm:
        positive = True
        for o in range(t):
            positive = positive and price_init[o] - cost[o] > 0.0
        if positive:
            iterations = _multi_offer_newton(gross, mu, switching, is_provider, rival, cost, markup, tol,
                                             max_iter, damping, prob, terms)
            if iterations != NOT_CONVERGED:
                _write_prices(gross, mu, switching, is_provider, rival, cost, markup, prob, out_price, out_share,
                              terms)
                return iterations
            for o in range(t):
                markup[o] = price_init[o] - cost[o]
    # Start from the best common markup (see _inclusive_values), solved globally like a single offer;
    # Newton then moves the markups apart.
    inclusive = _inclusive_values(gross, mu, cost, terms)
    start = 0.0
    for o in range(t):
        start += markup[o]
    common, start_iterations, _ = _best_single_offer(inclusive, mu, switching, is_provider, rival, 0.0, start / t,
                                                     tol, max_iter, damping, terms)
    iterations = NOT_CONVERGED
    if start_iterations != NOT_CONVERGED:
        for o in range(t):
            markup[o] = common
        iterations = _multi_offer_newton(gross, mu, switching, is_provider, rival, cost, markup, tol,
                                         max_iter, damping, prob, terms)
        if iterations != NOT_CONVERGED:
            iterations += start_iterations
    _write_prices(gross, mu, switching, is_provider, rival, cost, markup, prob, out_price, out_share, terms)
    return iterations


@njit(cache=True)
def _inclusive_values(gross, mu, cost, terms):
    """w_i = mu_i log sum_o exp((g_io - c_o) / mu_i): with one markup m on every offer, the lab's offers
    act as one offer of gross utility w_i at cost 0 (exact for homogeneous users)."""
    n = gross.shape[0]
    t = cost.shape[0]
    inclusive = np.empty(n)
    for i in range(n):
        top = (gross[i, 0] - cost[0]) / mu[i]
        for o in range(1, t):
            top = max(top, (gross[i, o] - cost[o]) / mu[i])
        total = 0.0
        for o in range(t):
            total += math.exp((gross[i, o] - cost[o]) / mu[i] - top)
        inclusive[i] = mu[i] * (top + math.log(total))
    terms[0] += n * t
    return inclusive


@njit(cache=True)
def _write_prices(gross, mu, switching, is_provider, rival, cost, markup, prob, out_price, out_share, terms):
    """out_price = c + m and out_share = mean_i P_io at the markups ``markup`` (D2)."""
    n = gross.shape[0]
    _own_probabilities(gross, mu, switching, is_provider, rival, cost, markup, prob, terms)
    for o in range(cost.shape[0]):
        out_price[o] = cost[o] + markup[o]
        share = 0.0
        for i in range(n):
            share += prob[i, o]
        out_share[o] = share / n


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
    prices = np.empty(cost.size)
    shares = np.empty(cost.size)
    iterations = NOT_CONVERGED
    for damping in dampings:
        iterations = _price_kernel(gross, mu, switching, is_provider, rival, cost, price_init,
                                   tol, max_iter, damping, bool(warm), prices, shares, LOGIT_TERMS)
        if iterations != NOT_CONVERGED:
            break
    return prices, shares, iterations


renew_when_changed(globals(), __file__, *kernel_sources(__file__))  # see numba_cache
