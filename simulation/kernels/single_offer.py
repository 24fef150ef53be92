"""Best-response markup of a single offer against fixed rivals (docs/ODD.md §7.6, D3): bracketed Newton
on the first-order condition and a global scan over the peaks of profit. The reference is
:mod:`aimarket.simulation.reference.prices`.

Every kernel here takes the offer's *log-odds at zero markup* against the rivals,
``a_i = (g_i - c + s_i 1[provider_i is the lab]) / mu_i - R_i`` (:func:`aimarket.simulation.kernels.choice._log_odds`),
and ``inv_mu_i = 1 / mu_i``, so that a user's choice probability at markup ``m`` is
``P_i = 1 / (1 + exp(m / mu_i - a_i))``: one multiply-add, one ``exp`` and one division.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from aimarket.simulation.laws import logistic_of_minus
from aimarket.simulation.numba_cache import kernel_sources, renew_when_changed

NOT_CONVERGED = -1
NEGLIGIBLE_SHARE = 1e-12  # mean share below which an offer's markup is left out of the convergence test


@njit(cache=True)
def _single_offer_newton(odds, inv_mu, cost, markup, tol, max_iter, damping, buffer, terms):
    """Safeguarded Newton's method on the single-offer logit first-order condition (D3), in the
    markup m = p - c:

        F(m) = sum_i P_i (1 - m (1 - P_i) / mu_i) = d profit / d m  (per task),
        F'(m) = -sum_i a_i (2 - m (1 - 2 P_i) / mu_i),  a_i = P_i (1 - P_i) / mu_i,

    with ``P_i = 1 / (1 + exp(m / mu_i - odds_i))`` (one exp per user). With heterogeneous users profit need
    not be concave in m, so the root is kept in a bracket [lo, hi] with F(lo) > 0 > F(hi) (F(0) =
    sum P > 0): a sign change from + to - is a local profit maximum. The Newton step (damped by
    ``damping`` in (0, 1]) is taken when it falls inside the bracket; otherwise the markup doubles
    while no upper end is known, and the bracket is bisected once it is. A markup at which the offer
    sells nothing (mean share below ``NEGLIGIBLE_SHARE``) is an upper end once a selling markup is
    known; an offer that sells nothing at its starting markup is left there.
    ``buffer`` (n,) is scratch. Returns (markup, iterations, mean share) with iterations = -1 if not
    converged.
    """
    n = odds.shape[0]
    m = markup
    lo = 0.0
    hi = math.inf
    for it in range(max_iter):
        # the exps first, then the sums: no live sums across the exp calls (about 1/8 faster, the same bits)
        for i in range(n):
            buffer[i] = math.exp(m * inv_mu[i] - odds[i])
        f = 0.0
        slope = 0.0
        sold = 0.0
        for i in range(n):
            iv = inv_mu[i]
            p = 1.0 / (1.0 + buffer[i])  # logistic_of_minus(m / mu_i - odds_i)
            a = p * (1.0 - p) * iv
            f += p - m * a
            slope -= a * (2.0 - m * (1.0 - 2.0 * p) * iv)
            sold += p
        terms[0] += n
        selling = sold >= NEGLIGIBLE_SHARE * n
        if (selling and f == 0.0) or (not selling and lo == 0.0):
            return m, it + 1, _mean_logistic(odds, inv_mu, m, terms)  # optimal, or sells nothing from the start
        if f > 0.0 and selling:
            lo = m
        else:  # past the peak, or overshot into markups at which nobody buys
            hi = m
        new = m + damping * (-f / slope) if slope < 0.0 else math.nan
        if abs(new - m) <= tol * abs(cost + new):  # a converged Newton step (False for nan)
            return new, it + 1, _mean_logistic(odds, inv_mu, new, terms)
        if not (lo < new < hi):
            new = 2.0 * m if hi == math.inf else 0.5 * (lo + hi)
        if abs(new - m) <= tol * abs(cost + new):
            return new, it + 1, _mean_logistic(odds, inv_mu, new, terms)
        m = new
    return m, NOT_CONVERGED, _mean_logistic(odds, inv_mu, m, terms)


GLOBAL_GRID_POINTS = 32  # markups scanned for a better local maximum after Newton converges
GLOBAL_SCAN_USERS = 128  # users (every stride-th) on which the scan evaluates profit
PEAK_TOLERANCE = 0.7  # another peak of the scan at least this share of the solution's profit is solved too


@njit(cache=True)
def _scan_profit(odds, inv_mu, markup, stride, terms):
    """Profit per task ``m * mean P(m)`` on every ``stride``-th user (the global scan's yardstick)."""
    total = 0.0
    count = 0
    for i in range(0, odds.shape[0], stride):
        total += logistic_of_minus(markup * inv_mu[i] - odds[i])
        count += 1
    terms[0] += count
    return markup * total / count


@njit(cache=True)
def _best_single_offer(odds, mu, inv_mu, cost, markup, tol, max_iter, damping, terms):
    """The single-offer best response, global over the peaks of profit in the markup (D3).

    With heterogeneous users profit can have several peaks in the markup (a low price for the mass
    market, a high one for the users who value the task most); Newton finds the one near its start.
    Once it has converged, profit is scanned on ``GLOBAL_GRID_POINTS`` markups log-spaced from
    ``min(mu) / 4`` to ``20 max(mu)`` over a subsample of users. Newton restarts from every other
    peak of the scan (a grid point above both neighbours, not next to the solution) whose profit is
    at least ``PEAK_TOLERANCE`` of the solution's on the subsample, and the most profitable solution
    on all users is kept. Returns (markup, iterations of all solves, mean share), -1 if any failed.
    """
    buffer = np.empty(odds.shape[0])
    m, iterations, share = _single_offer_newton(odds, inv_mu, cost, markup, tol, max_iter, damping, buffer, terms)
    if iterations == NOT_CONVERGED:
        return m, iterations, share
    n = odds.shape[0]
    stride = max(1, n // GLOBAL_SCAN_USERS)
    low = mu[0]
    high = mu[0]
    for i in range(0, n, stride):
        low = min(low, mu[i])
        high = max(high, mu[i])
    low *= 0.25
    high *= 20.0
    grid = np.empty(GLOBAL_GRID_POINTS)
    scan = np.empty(GLOBAL_GRID_POINTS)
    nearest = 0
    for g in range(GLOBAL_GRID_POINTS):
        grid[g] = low * (high / low) ** (g / (GLOBAL_GRID_POINTS - 1))
        scan[g] = _scan_profit(odds, inv_mu, grid[g], stride, terms)
        if abs(math.log(grid[g] / m)) < abs(math.log(grid[nearest] / m)):
            nearest = g
    at_solution = _scan_profit(odds, inv_mu, m, stride, terms)
    best_m, best_share, best_profit = m, share, m * share
    for g in range(GLOBAL_GRID_POINTS):
        left = scan[g - 1] if g > 0 else -1.0
        right = scan[g + 1] if g < GLOBAL_GRID_POINTS - 1 else -1.0
        if abs(g - nearest) <= 1 or not (scan[g] > left and scan[g] >= right):
            continue
        if not scan[g] >= PEAK_TOLERANCE * at_solution:
            continue
        m2, iterations2, share2 = _single_offer_newton(odds, inv_mu, cost, grid[g], tol, max_iter, damping, buffer,
                                                       terms)
        if iterations2 == NOT_CONVERGED:
            return m2, iterations2, share2
        iterations += iterations2
        if m2 * share2 > best_profit:
            best_m, best_share, best_profit = m2, share2, m2 * share2
    return best_m, iterations, best_share


@njit(cache=True)
def _mean_logistic(odds, inv_mu, m, terms):
    """Mean over users of P_i = 1 / (1 + exp(m / mu_i - odds_i)) (the offer's mean share)."""
    total = 0.0
    for i in range(odds.shape[0]):
        total += logistic_of_minus(m * inv_mu[i] - odds[i])
    terms[0] += odds.shape[0]
    return total / odds.shape[0]


renew_when_changed(globals(), __file__, *kernel_sources(__file__))  # see numba_cache
