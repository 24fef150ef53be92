"""Best-response markups of a lab's several offers against fixed rivals (docs/ODD.md §7.6, D3): Newton
with a Levenberg-Marquardt shift and backtracking on the lab's profit. The reference is
:mod:`aimarket.simulation.reference.prices`.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from aimarket.simulation.kernels.single_offer import NEGLIGIBLE_SHARE, NOT_CONVERGED
from aimarket.simulation.numba_cache import kernel_sources, renew_when_changed

# FLAT_STEPS accepted steps in a row that raise profit by at most FLAT_PROFIT (relative) end Newton as
# converged: the markups move along a ridge on which profit is flat (two offers that users value alike),
# so their split does not matter to the lab.
FLAT_PROFIT = 1e-13
FLAT_STEPS = 8
CURVATURE_FLOOR = 1e-12  # the Levenberg-Marquardt scaling of an offer: at least this share of the largest curvature


@njit(cache=True)
def _cholesky_solve(a, b, x):
    """x = a^-1 b for a symmetric positive definite ``a`` by Cholesky (``a`` is overwritten by its
    factor); returns False when ``a`` is not positive definite. Written out so that the reference can
    repeat it operation by operation."""
    t = b.shape[0]
    for j in range(t):
        diagonal = a[j, j]
        for k in range(j):
            diagonal -= a[j, k] * a[j, k]
        if not diagonal > 0.0:
            return False
        a[j, j] = math.sqrt(diagonal)
        for i in range(j + 1, t):
            total = a[i, j]
            for k in range(j):
                total -= a[i, k] * a[j, k]
            a[i, j] = total / a[j, j]
    for i in range(t):  # forward: L y = b
        total = b[i]
        for k in range(i):
            total -= a[i, k] * x[k]
        x[i] = total / a[i, i]
    for i in range(t - 1, -1, -1):  # backward: L' x = y
        total = x[i]
        for k in range(i + 1, t):
            total -= a[k, i] * x[k]
        x[i] = total / a[i, i]
    return True


@njit(cache=True)
def _lab_profit_terms(odds, inv_mu, markup, share, grad, hess, prob, keep, terms):
    """Profit, gradient, Hessian and shares of :func:`_lab_profit_terms_any`; two offers (the default
    tiers) take :func:`_lab_profit_terms_two`, the same operations in the same order with the sums in
    registers (the same bits, in about 60% of the time)."""
    if odds.shape[1] == 2:
        return _lab_profit_terms_two(odds, inv_mu, markup, share, grad, hess, terms)
    return _lab_profit_terms_any(odds, inv_mu, markup, share, grad, hess, prob, keep, terms)


@njit(cache=True)
def _lab_profit_terms_any(odds, inv_mu, markup, share, grad, hess, prob, keep, terms):
    """Profit per user-task ``pi(m) = mean_i M_i`` with ``M_i = sum_o m_o P_io``, its gradient and Hessian,
    and each offer's summed share ``share_o = sum_i P_io``, in one pass over the users:

        g_o = sum_i P_io k_io,   k_io = 1 - (m_o - M_i) / mu_i                   (D3, = 0 at the optimum)
        H_oo = sum_i [ -w_io (1 - P_io) k_io + w_io (P_io k_io - 1) ],   w_io = P_io / mu_i,
        H_oq = sum_i [ w_io P_iq k_io + w_io P_iq k_iq ]   (o < q; H_qo = H_oq),

    with ``P_io = exp(z_io - z*) / (exp(-z*) + sum_o' exp(z_io' - z*))``, ``z_io = odds_io - m_o / mu_i`` the
    log-odds of offer o against the rivals' log-sum and ``z* = max(0, z_i.)``: t + 1 exps and one division
    per user. (Each diagonal term is summed in this form, not as w_io (2 P_io k_io - k_io - 1): where one user
    buys an offer for sure it cancels to exactly zero, where the shorter form leaves a residue near 1e-266
    that the Levenberg-Marquardt scaling by |diag H| cannot recover from.) ``prob`` and ``keep`` (t,) are
    scratch; returns the profit."""
    n, t = odds.shape
    profit = 0.0
    for o in range(t):
        share[o] = 0.0
        grad[o] = 0.0
        for q in range(t):
            hess[o, q] = 0.0
    for i in range(n):
        iv = inv_mu[i]
        _user_probabilities(odds, i, iv, markup, prob)
        big_m = 0.0
        for o in range(t):
            big_m += markup[o] * prob[o]
        profit += big_m
        for o in range(t):
            keep[o] = 1.0 - (markup[o] - big_m) * iv
        for o in range(t):
            p = prob[o]
            w = p * iv
            share[o] += p
            grad[o] += p * keep[o]
            hess[o, o] += -w * (1.0 - p) * keep[o] + w * (p * keep[o] - 1.0)
            for q in range(o + 1, t):
                hess[o, q] += w * prob[q] * keep[o] + w * prob[q] * keep[q]
    for o in range(t):
        for q in range(o + 1, t):
            hess[q, o] = hess[o, q]
    terms[0] += n * (t + 1)
    return profit / n


@njit(cache=True)
def _two_probabilities(odds0, odds1, m0, m1, iv):
    """(P_i0, P_i1) of a lab with two offers at markups (m0, m1): the probabilities of
    :func:`_lab_profit_terms_any`, with the same operations in the same order (the same bits)."""
    z0 = odds0 - m0 * iv
    z1 = odds1 - m1 * iv
    z_max = 0.0
    if z0 > z_max:
        z_max = z0
    if z1 > z_max:
        z_max = z1
    e0 = math.exp(z0 - z_max)
    e1 = math.exp(z1 - z_max)
    scale = 1.0 / (math.exp(-z_max) + e0 + e1)
    return e0 * scale, e1 * scale


@njit(cache=True)
def _lab_profit_terms_two(odds, inv_mu, markup, share, grad, hess, terms):
    """:func:`_lab_profit_terms_any` for a lab with two offers, written out (the same bits)."""
    n = odds.shape[0]
    m0 = markup[0]
    m1 = markup[1]
    profit = 0.0
    s0 = s1 = g0 = g1 = h00 = h01 = h11 = 0.0
    for i in range(n):
        iv = inv_mu[i]
        p0, p1 = _two_probabilities(odds[i, 0], odds[i, 1], m0, m1, iv)
        big_m = m0 * p0 + m1 * p1
        profit += big_m
        k0 = 1.0 - (m0 - big_m) * iv
        k1 = 1.0 - (m1 - big_m) * iv
        w0 = p0 * iv
        w1 = p1 * iv
        s0 += p0
        s1 += p1
        g0 += p0 * k0
        g1 += p1 * k1
        h00 += -w0 * (1.0 - p0) * k0 + w0 * (p0 * k0 - 1.0)
        h01 += w0 * p1 * k0 + w0 * p1 * k1
        h11 += -w1 * (1.0 - p1) * k1 + w1 * (p1 * k1 - 1.0)
    share[0] = s0
    share[1] = s1
    grad[0] = g0
    grad[1] = g1
    hess[0, 0] = h00
    hess[0, 1] = h01
    hess[1, 0] = h01
    hess[1, 1] = h11
    terms[0] += 3 * n
    return profit / n


@njit(cache=True)
def _lab_shares(odds, inv_mu, markup, share, prob, terms):
    """share_o = sum_i P_io at the markups ``markup`` (the probabilities of :func:`_lab_profit_terms`); two
    offers are written out with the sums in registers (the same bits)."""
    n, t = odds.shape
    if t == 2:
        m0 = markup[0]
        m1 = markup[1]
        s0 = s1 = 0.0
        for i in range(n):
            p0, p1 = _two_probabilities(odds[i, 0], odds[i, 1], m0, m1, inv_mu[i])
            s0 += p0
            s1 += p1
        share[0] = s0
        share[1] = s1
        terms[0] += 3 * n
        return
    for o in range(t):
        share[o] = 0.0
    for i in range(n):
        _user_probabilities(odds, i, inv_mu[i], markup, prob)
        for o in range(t):
            share[o] += prob[o]
    terms[0] += n * (t + 1)


@njit(cache=True)
def _user_probabilities(odds, i, iv, markup, prob):
    """prob[o] = P_io of user ``i`` (``iv`` = 1 / mu_i) at the markups ``markup`` (:func:`_lab_profit_terms_any`)."""
    t = odds.shape[1]
    z_max = 0.0
    for o in range(t):
        prob[o] = odds[i, o] - markup[o] * iv
        if prob[o] > z_max:
            z_max = prob[o]
    total = math.exp(-z_max)
    for o in range(t):
        prob[o] = math.exp(prob[o] - z_max)
        total += prob[o]
    scale = 1.0 / total
    for o in range(t):
        prob[o] *= scale


@njit(cache=True)
def _ascent_step(grad, hess, active, system, step):
    """Levenberg-Marquardt: the smallest shift lam >= 0 (0, else growing from 1e-6 by 4x) that makes
    -H + lam |diag H| positive definite, so that the step solving (-H + lam |diag H|) d = g is an ascent
    direction even where profit is not concave (lam = 0 is the Newton step); the diagonal scaling gives
    each offer a step on the scale of its own curvature, however small its share, but at least
    ``CURVATURE_FLOOR`` times the largest (an offer that a user buys for sure has a diagonal that cancels to
    exactly zero, and without the floor no shift would help). Offers not ``active`` get no step. Writes
    ``step``; returns False when no shift works (a non-finite Hessian)."""
    t = grad.shape[0]
    rhs = np.empty(t)
    floor = 1e-300
    for o in range(t):
        if active[o]:
            floor = max(floor, CURVATURE_FLOOR * abs(hess[o, o]))
    shift = 0.0
    for _ in range(80):
        for o in range(t):
            rhs[o] = grad[o] if active[o] else 0.0
            for q in range(t):
                if active[o] and active[q]:
                    system[o, q] = -hess[o, q] + (shift * max(abs(hess[o, o]), floor) if o == q else 0.0)
                else:
                    system[o, q] = 1.0 if o == q else 0.0
        if _cholesky_solve(system, rhs, step):
            return True
        shift = 4.0 * shift if shift > 0.0 else 1e-6
    return False


@njit(cache=True)
def _multi_offer_newton(odds, inv_mu, cost, markup, tol, max_iter, damping, out_share, terms):
    """Newton's method with a Levenberg-Marquardt shift and backtracking on a lab's profit in the
    markups of its ``t`` offers (D3), from the log-odds ``odds`` (n, t) of its offers at zero markup
    against the rivals (:func:`aimarket.simulation.kernels.choice._log_odds`): the step solves
    ``(-H + lam |diag H|) d = g`` with the smallest ``lam`` (0, else growing from 1e-6) that makes the
    matrix positive definite, and is halved from ``damping`` until the markups stay positive and profit
    does not fall. Offers with a negligible share are held fixed. Stops when every markup moves by less
    than ``tol`` (relative to the price ``cost + markup``), or after ``FLAT_STEPS`` steps in a row that
    raise profit by at most ``FLAT_PROFIT`` (a flat ridge). Updates ``markup`` in place and writes the mean
    shares at the final markups into ``out_share``; returns iterations, or -1 (also when no shift makes the
    system positive definite: a non-finite Hessian)."""
    n, t = odds.shape
    share = np.empty(t)
    grad = np.empty(t)
    hess = np.empty((t, t))
    step = np.empty(t)
    trial = np.empty(t)
    trial_share = np.empty(t)
    trial_grad = np.empty(t)
    trial_hess = np.empty((t, t))
    system = np.empty((t, t))
    active = np.empty(t, dtype=np.bool_)
    prob = np.empty(t)
    keep = np.empty(t)
    profit = _lab_profit_terms(odds, inv_mu, markup, share, grad, hess, prob, keep, terms)
    stalled = 0
    iterations = NOT_CONVERGED
    for it in range(max_iter):
        for o in range(t):
            active[o] = share[o] >= NEGLIGIBLE_SHARE * n
        if not _ascent_step(grad, hess, active, system, step):
            break  # no shift made the system positive definite (a non-finite Hessian)
        alpha = damping
        accepted = False
        for _ in range(60):
            positive = True
            for o in range(t):
                trial[o] = markup[o] + alpha * step[o]
                if not trial[o] > 0.0:
                    positive = False
            if positive:
                trial_profit = _lab_profit_terms(odds, inv_mu, trial, trial_share, trial_grad, trial_hess, prob,
                                                 keep, terms)
                finite = math.isfinite(trial_profit)
                for o in range(t):
                    finite = finite and math.isfinite(trial_grad[o])
                    for q in range(t):
                        finite = finite and math.isfinite(trial_hess[o, q])
                if finite and trial_profit >= profit * (1.0 - 1e-15):
                    accepted = True
                    break
            alpha *= 0.5
        if not accepted:
            iterations = it + 1  # no ascent left at machine precision: a local maximum
            break
        converged = True
        for o in range(t):
            if active[o] and abs(trial[o] - markup[o]) > tol * abs(cost[o] + trial[o]):
                converged = False
            markup[o] = trial[o]
            share[o] = trial_share[o]
            grad[o] = trial_grad[o]
            for q in range(t):
                hess[o, q] = trial_hess[o, q]
        stalled = stalled + 1 if trial_profit <= profit * (1.0 + FLAT_PROFIT) else 0
        profit = trial_profit
        if converged or stalled >= FLAT_STEPS:
            iterations = it + 1
            break
    for o in range(t):
        out_share[o] = share[o] / n
    return iterations


renew_when_changed(globals(), __file__, *kernel_sources(__file__))  # see numba_cache
