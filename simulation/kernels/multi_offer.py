"""Best-response markups of a lab's several offers against fixed rivals (docs/ODD.md §7.6, D3): Newton
with a Levenberg-Marquardt shift and backtracking on the lab's profit. The reference is
:mod:`aimarket.simulation.reference.prices`.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from aimarket.simulation.kernels.choice import _own_probabilities
from aimarket.simulation.kernels.single_offer import NEGLIGIBLE_SHARE, NOT_CONVERGED
from aimarket.simulation.numba_cache import kernel_sources, renew_when_changed

# FLAT_STEPS accepted steps in a row that raise profit by at most FLAT_PROFIT (relative) end Newton as
# converged: the markups move along a ridge on which profit is flat (two offers that users value alike),
# so their split does not matter to the lab.
FLAT_PROFIT = 1e-13
FLAT_STEPS = 8


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
def _lab_profit_terms(gross, mu, switching, is_provider, rival, cost, markup, prob, grad, hess, terms):
    """Profit per user-task ``pi(m) = mean_i M_i`` with ``M_i = sum_o m_o P_io``, its gradient and Hessian:

        g_o = sum_i P_io (1 - (m_o - M_i) / mu_i)                              (D3, = 0 at the optimum)
        H_oq = sum_i [ -P_io (d_oq - P_iq) / mu_i * k_io + P_io / mu_i * (-d_oq + P_iq k_iq) ],
        k_io = 1 - (m_o - M_i) / mu_i.

    (Summed in this form, not as P_io / mu_i (P_iq (k_io + k_iq) - d_oq (k_io + 1)): where one user buys an
    offer for sure, the diagonal term cancels to zero, and the shorter form leaves a residue near 1e-266
    that the Levenberg-Marquardt scaling by |diag H| cannot recover from.)
    ``prob`` receives P_io, ``grad`` and ``hess`` the derivatives; returns the profit."""
    n = gross.shape[0]
    t = cost.shape[0]
    _own_probabilities(gross, mu, switching, is_provider, rival, cost, markup, prob, terms)
    profit = 0.0
    for o in range(t):
        grad[o] = 0.0
        for q in range(t):
            hess[o, q] = 0.0
    keep = np.empty(t)
    for i in range(n):
        inv_mu = 1.0 / mu[i]
        big_m = 0.0
        for o in range(t):
            big_m += markup[o] * prob[i, o]
        profit += big_m
        for o in range(t):
            keep[o] = 1.0 - (markup[o] - big_m) * inv_mu
        for o in range(t):
            grad[o] += prob[i, o] * keep[o]
            for q in range(t):
                delta = 1.0 if o == q else 0.0
                hess[o, q] += (-prob[i, o] * (delta - prob[i, q]) * inv_mu * keep[o]
                               + prob[i, o] * inv_mu * (-delta + prob[i, q] * keep[q]))
    return profit / n


@njit(cache=True)
def _ascent_step(grad, hess, active, system, step):
    """Levenberg-Marquardt: the smallest shift lam >= 0 (0, else growing from 1e-6 by 4x) that makes
    -H + lam |diag H| positive definite, so that the step solving (-H + lam |diag H|) d = g is an ascent
    direction even where profit is not concave (lam = 0 is the Newton step); the diagonal scaling gives
    each offer a step on the scale of its own curvature, however small its share. Offers not ``active``
    get no step. Writes ``step``; returns False when no shift works (a non-finite Hessian)."""
    t = grad.shape[0]
    rhs = np.empty(t)
    shift = 0.0
    for _ in range(80):
        for o in range(t):
            rhs[o] = grad[o] if active[o] else 0.0
            for q in range(t):
                if active[o] and active[q]:
                    system[o, q] = -hess[o, q] + (shift * max(abs(hess[o, o]), 1e-300) if o == q else 0.0)
                else:
                    system[o, q] = 1.0 if o == q else 0.0
        if _cholesky_solve(system, rhs, step):
            return True
        shift = 4.0 * shift if shift > 0.0 else 1e-6
    return False


@njit(cache=True)
def _multi_offer_newton(gross, mu, switching, is_provider, rival, cost, markup, tol, max_iter, damping,
                        prob, terms):
    """Newton's method with a Levenberg-Marquardt shift and backtracking on a lab's profit in the
    markups of its ``t`` offers (D3): the step solves ``(-H + lam |diag H|) d = g`` with the smallest
    ``lam`` (0, else growing from 1e-6) that makes the matrix positive definite, and
    is halved from ``damping`` until the markups stay positive and profit does not fall. Offers with a
    negligible share are held fixed. Stops when every markup moves by less than ``tol`` (relative), or
    after ``FLAT_STEPS`` steps in a row that raise profit by at most ``FLAT_PROFIT`` (a flat ridge).
    Updates ``markup`` in place; returns iterations, or -1 (also when no shift makes the system positive
    definite: a non-finite Hessian)."""
    n = gross.shape[0]
    t = cost.shape[0]
    grad = np.empty(t)
    hess = np.empty((t, t))
    step = np.empty(t)
    trial = np.empty(t)
    trial_grad = np.empty(t)
    trial_hess = np.empty((t, t))
    trial_prob = np.empty((n, t))
    system = np.empty((t, t))
    active = np.empty(t, dtype=np.bool_)
    profit = _lab_profit_terms(gross, mu, switching, is_provider, rival, cost, markup, prob, grad, hess, terms)
    stalled = 0
    for it in range(max_iter):
        for o in range(t):
            share = 0.0
            for i in range(n):
                share += prob[i, o]
            active[o] = share >= NEGLIGIBLE_SHARE * n
        if not _ascent_step(grad, hess, active, system, step):
            return NOT_CONVERGED  # no shift made the system positive definite (a non-finite Hessian)
        alpha = damping
        accepted = False
        for _ in range(60):
            positive = True
            for o in range(t):
                trial[o] = markup[o] + alpha * step[o]
                if not trial[o] > 0.0:
                    positive = False
            if positive:
                trial_profit = _lab_profit_terms(gross, mu, switching, is_provider, rival, cost, trial,
                                                 trial_prob, trial_grad, trial_hess, terms)
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
            return it + 1  # no ascent left at machine precision: a local maximum
        converged = True
        for o in range(t):
            if active[o] and abs(trial[o] - markup[o]) > tol * abs(cost[o] + trial[o]):
                converged = False
            markup[o] = trial[o]
            grad[o] = trial_grad[o]
            for q in range(t):
                hess[o, q] = trial_hess[o, q]
        prob[:, :] = trial_prob
        stalled = stalled + 1 if trial_profit <= profit * (1.0 + FLAT_PROFIT) else 0
        profit = trial_profit
        if converged or stalled >= FLAT_STEPS:
            return it + 1
    return NOT_CONVERGED


renew_when_changed(globals(), __file__, *kernel_sources(__file__))  # see numba_cache
