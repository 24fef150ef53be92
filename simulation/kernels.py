"""Numba market kernels (docs/ODD.md §7.3-§7): marginal costs, logit choice, best-response prices.

Conventions shared by every kernel
----------------------------------
The market of one task type has ``n`` users and ``m`` *offers*. An offer is one (k, price) product
of one lab; a lab may sell several offers (tiers) on a task type, and an offer whose owner is ``-1``
is not sold by a lab (self-hosting an open-weight model). Per user ``i``:

* ``value[i]``       value of a successful task, ``v_i`` [$/task]
* ``mu[i]``          logit scale ``mu_i = logit_scale * v_i`` [$]
* ``switching[i]``   switching cost ``s_i`` [$], the bonus of staying with the current provider
* ``provider[i]``    id of the lab the user bought from last step, ``-1`` for none
* ``outside[i]``     utility of the outside option ``u_i0 = max(0, v_i h - wage)`` [$]

Per offer ``o``: ``quality[o]`` = success probability ``P_tau(E_o)``, ``price[o]`` [$/task],
``owner[o]`` (lab id or -1). Utility (docs/ODD.md §7.4, equation D1 of docs/ODD.md):

    u_io = v_i * quality_o - price_o + s_i * 1[owner_o == provider_i]

and choice probabilities are logit with scale ``mu_i`` (D2), evaluated with log-sum-exp:

    P_io = exp(u_io / mu_i - L_i),   L_i = log(exp(u_i0 / mu_i) + sum_o exp(u_io / mu_i)).

Every public function validates its inputs and calls a private ``@njit(cache=True)`` kernel that
writes into preallocated arrays and takes its random draws as arguments (the QuantEcon pattern).
The plain-Python reference of each kernel, used by the tests, is in :mod:`simulation.reference`.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from simulation.laws import marginal_cost_per_task

NOT_CONVERGED = -1
NEGLIGIBLE_SHARE = 1e-12  # mean share below which an offer's markup is left out of the convergence test


@njit(cache=True)
def _logistic_of_minus(d):
    """1 / (1 + exp(d)), in the branch that cannot overflow: the probability of an offer whose
    log-odds against the rest of the choice set is -d."""
    if d >= 0.0:
        e = math.exp(-d)
        return e / (1.0 + e)
    return 1.0 / (1.0 + math.exp(d))


# --------------------------------------------------------------------------------------------------
# Marginal cost (docs/ODD.md §7.3, L9)
# --------------------------------------------------------------------------------------------------

@njit(cache=True)
def _marginal_cost_kernel(raw_flop, tokens, k_grid, inference_fpd, out):
    """out[l, t, j] = 2 * sqrt(C_l / 120) * tokens_t * k_j / F_inf  (L7-L9)  [$/task]."""
    for lab in range(raw_flop.shape[0]):
        for task in range(tokens.shape[0]):
            for j in range(k_grid.shape[0]):
                out[lab, task, j] = marginal_cost_per_task(raw_flop[lab], tokens[task], k_grid[j], inference_fpd)


def marginal_costs(raw_flop: np.ndarray, tokens: np.ndarray, k_grid: np.ndarray,
                   inference_fpd: float) -> np.ndarray:
    """Marginal cost per task for every lab x task type x inference multiplier [$/task].

    raw_flop: (labs,) raw training compute of each lab's deployed model [FLOP];
    tokens: (tasks,) base tokens per task; k_grid: (K,) inference multipliers (>= 1);
    inference_fpd: inference FLOP per USD at this step. Returns an array (labs, tasks, K).
    """
    raw_flop = _vector(raw_flop, "raw_flop", positive=True)
    tokens = _vector(tokens, "tokens", positive=True)
    k_grid = _vector(k_grid, "k_grid", positive=True)
    if not inference_fpd > 0:
        raise ValueError(f"inference_fpd must be > 0 (got {inference_fpd})")
    out = np.empty((raw_flop.size, tokens.size, k_grid.size))
    _marginal_cost_kernel(raw_flop, tokens, k_grid, float(inference_fpd), out)
    return out


# --------------------------------------------------------------------------------------------------
# Logit choice (docs/ODD.md §7.4, D1-D2)
# --------------------------------------------------------------------------------------------------

@njit(cache=True)
def _choice_kernel(value, mu, switching, provider, outside, quality, price, owner, out_prob, out_logsum):
    """Logit choice probabilities of every user over every offer and the outside option (D1-D2).

    out_prob[i, o] = exp(u_io / mu_i - L_i) for o < m and out_prob[i, m] = exp(u_i0 / mu_i - L_i);
    out_logsum[i] = L_i (log-sum-exp, so that utilities and scales spanning 1e-6..1e6 stay finite).
    """
    n = value.shape[0]
    m = quality.shape[0]
    z = np.empty(m + 1)
    for i in range(n):
        inv_mu = 1.0 / mu[i]
        z_max = outside[i] * inv_mu
        z[m] = z_max
        for o in range(m):
            u = value[i] * quality[o] - price[o]
            if owner[o] >= 0 and owner[o] == provider[i]:
                u += switching[i]
            z[o] = u * inv_mu
            if z[o] > z_max:
                z_max = z[o]
        total = 0.0
        for o in range(m + 1):
            total += math.exp(z[o] - z_max)
        log_sum = z_max + math.log(total)
        out_logsum[i] = log_sum
        for o in range(m + 1):
            out_prob[i, o] = math.exp(z[o] - log_sum)


def choice_probabilities(value, mu, switching, provider, outside, quality, price, owner):
    """Choice probabilities (n, m + 1), last column the outside option, and log-sums L_i (n,)."""
    value, mu, switching, provider, outside = _users(value, mu, switching, provider, outside)
    quality, price, owner = _offers(quality, price, owner)
    prob = np.empty((value.size, quality.size + 1))
    logsum = np.empty(value.size)
    _choice_kernel(value, mu, switching, provider, outside, quality, price, owner, prob, logsum)
    return prob, logsum


# --------------------------------------------------------------------------------------------------
# Rivals' part of the logit denominator (docs/ODD.md §7.6)
# --------------------------------------------------------------------------------------------------

@njit(cache=True)
def _rival_log_sum_kernel(value, mu, switching, provider, outside, quality, price, owner, lab, out):
    """R_i = log(exp(u_i0 / mu_i) + sum_{o: owner_o != lab} exp(u_io / mu_i)).

    The deviating lab's offers are left out, so that a candidate offer of ``lab`` is evaluated
    in O(users) as ``L_i = logaddexp(R_i, own terms)``.
    """
    n = value.shape[0]
    m = quality.shape[0]
    for i in range(n):  # one pass: a running maximum and a sum rescaled when the maximum moves
        inv_mu = 1.0 / mu[i]
        z_max = outside[i] * inv_mu
        total = 1.0
        for o in range(m):
            if owner[o] == lab:
                continue
            u = value[i] * quality[o] - price[o]
            if owner[o] >= 0 and owner[o] == provider[i]:
                u += switching[i]
            z = u * inv_mu
            if z > z_max:
                total = total * math.exp(z_max - z) + 1.0
                z_max = z
            else:
                total += math.exp(z - z_max)
        out[i] = z_max + math.log(total)


def rival_log_sums(value, mu, switching, provider, outside, quality, price, owner, lab: int, *,
                   validate: bool = True) -> np.ndarray:
    """Per user, the log of the logit denominator without the offers of ``lab`` (n,).
    ``validate=False`` skips the input checks, for callers that pass arrays already checked."""
    if validate:
        value, mu, switching, provider, outside = _users(value, mu, switching, provider, outside)
        quality, price, owner = _offers(quality, price, owner)
    out = np.empty(value.size)
    _rival_log_sum_kernel(value, mu, switching, provider, outside, quality, price, owner, int(lab), out)
    return out


# --------------------------------------------------------------------------------------------------
# Best-response prices of one lab's offers against fixed rivals (docs/ODD.md §7.6)
# --------------------------------------------------------------------------------------------------

@njit(cache=True)
def _own_probabilities(value, mu, switching, is_provider, rival, quality, cost, markup, prob):
    """prob[i, o] = exp(z_io - logaddexp(R_i, log sum_o' exp(z_io'))) with
    z_io = (v_i q_o - c_o - m_o + s_i 1[provider_i is this lab]) / mu_i."""
    n = value.shape[0]
    t = quality.shape[0]
    for i in range(n):
        inv_mu = 1.0 / mu[i]
        bonus = switching[i] if is_provider[i] else 0.0
        z_max = rival[i]
        for o in range(t):
            prob[i, o] = (value[i] * quality[o] - cost[o] - markup[o] + bonus) * inv_mu
            if prob[i, o] > z_max:
                z_max = prob[i, o]
        total = math.exp(rival[i] - z_max)
        for o in range(t):
            total += math.exp(prob[i, o] - z_max)
        log_sum = z_max + math.log(total)
        for o in range(t):
            prob[i, o] = math.exp(prob[i, o] - log_sum)


@njit(cache=True)
def _single_offer_newton(value, mu, switching, is_provider, rival, quality, cost, markup, tol, max_iter, damping):
    """Safeguarded Newton's method on the single-offer logit first-order condition (D3), in the
    markup m = p - c:

        F(m) = sum_i P_i (1 - m (1 - P_i) / mu_i) = d profit / d m  (per task),
        F'(m) = -sum_i a_i (2 - m (1 - 2 P_i) / mu_i),  a_i = P_i (1 - P_i) / mu_i,

    with ``P_i = 1 / (1 + exp(R_i - z_i))`` (one exp per user). With heterogeneous users profit need
    not be concave in m, so the root is kept in a bracket [lo, hi] with F(lo) > 0 > F(hi) (F(0) =
    sum P > 0): a sign change from + to - is a local profit maximum. The Newton step (damped by
    ``damping`` in (0, 1]) is taken when it falls inside the bracket; otherwise the markup doubles
    while no upper end is known, and the bracket is bisected once it is. A markup at which the offer
    sells nothing (mean share below ``NEGLIGIBLE_SHARE``) is an upper end once a selling markup is
    known; an offer that sells nothing at its starting markup is left there.
    Returns (markup, iterations, mean share) with iterations = -1 if not converged.
    """
    n = value.shape[0]
    inv_mu = np.empty(n)
    base = np.empty(n)  # d_i = base_i + m / mu_i = R_i - z_i
    for i in range(n):
        inv_mu[i] = 1.0 / mu[i]
        bonus = switching[i] if is_provider[i] else 0.0
        base[i] = rival[i] - (value[i] * quality - cost + bonus) * inv_mu[i]
    m = markup
    lo = 0.0
    hi = math.inf
    for it in range(max_iter):
        f = 0.0
        slope = 0.0
        sold = 0.0
        for i in range(n):
            d = base[i] + m * inv_mu[i]
            p = _logistic_of_minus(d)
            a = p * (1.0 - p) * inv_mu[i]
            f += p - m * a
            slope -= a * (2.0 - m * (1.0 - 2.0 * p) * inv_mu[i])
            sold += p
        selling = sold >= NEGLIGIBLE_SHARE * n
        if (selling and f == 0.0) or (not selling and lo == 0.0):
            return m, it + 1, _mean_logistic(base, inv_mu, m)  # optimal, or sells nothing from the start
        if f > 0.0 and selling:
            lo = m
        else:  # past the peak, or overshot into markups at which nobody buys
            hi = m
        new = m + damping * (-f / slope) if slope < 0.0 else math.nan
        if abs(new - m) <= tol * abs(cost + new):  # a converged Newton step (False for nan)
            return new, it + 1, _mean_logistic(base, inv_mu, new)
        if not (lo < new < hi):
            new = 2.0 * m if hi == math.inf else 0.5 * (lo + hi)
        if abs(new - m) <= tol * abs(cost + new):
            return new, it + 1, _mean_logistic(base, inv_mu, new)
        m = new
    return m, NOT_CONVERGED, _mean_logistic(base, inv_mu, m)


GLOBAL_GRID_POINTS = 32  # markups scanned for a better local maximum after Newton converges
GLOBAL_SCAN_USERS = 128  # users (every stride-th) on which the scan evaluates profit
PEAK_TOLERANCE = 0.7  # another peak of the scan at least this share of the solution's profit is solved too


@njit(cache=True)
def _scan_profit(value, mu, switching, is_provider, rival, quality, cost, markup, stride):
    """Profit per task ``m * mean P(m)`` on every ``stride``-th user (the global scan's yardstick)."""
    total = 0.0
    count = 0
    for i in range(0, value.shape[0], stride):
        bonus = switching[i] if is_provider[i] else 0.0
        d = rival[i] - (value[i] * quality - cost + bonus - markup) / mu[i]
        total += _logistic_of_minus(d)
        count += 1
    return markup * total / count


@njit(cache=True)
def _best_single_offer(value, mu, switching, is_provider, rival, quality, cost, markup, tol, max_iter, damping):
    """The single-offer best response, global over the peaks of profit in the markup (D3).

    With heterogeneous users profit can have several peaks in the markup (a low price for the mass
    market, a high one for the users who value the task most); Newton finds the one near its start.
    Once it has converged, profit is scanned on ``GLOBAL_GRID_POINTS`` markups log-spaced from
    ``min(mu) / 4`` to ``20 max(mu)`` over a subsample of users. Newton restarts from every other
    peak of the scan (a grid point above both neighbours, not next to the solution) whose profit is
    at least ``PEAK_TOLERANCE`` of the solution's on the subsample, and the most profitable solution
    on all users is kept. Returns (markup, iterations of all solves, mean share), -1 if any failed.
    """
    m, iterations, share = _single_offer_newton(value, mu, switching, is_provider, rival, quality, cost, markup,
                                                tol, max_iter, damping)
    if iterations == NOT_CONVERGED:
        return m, iterations, share
    n = value.shape[0]
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
        scan[g] = _scan_profit(value, mu, switching, is_provider, rival, quality, cost, grid[g], stride)
        if abs(math.log(grid[g] / m)) < abs(math.log(grid[nearest] / m)):
            nearest = g
    at_solution = _scan_profit(value, mu, switching, is_provider, rival, quality, cost, m, stride)
    best_m, best_share, best_profit = m, share, m * share
    for g in range(GLOBAL_GRID_POINTS):
        left = scan[g - 1] if g > 0 else -1.0
        right = scan[g + 1] if g < GLOBAL_GRID_POINTS - 1 else -1.0
        if abs(g - nearest) <= 1 or not (scan[g] > left and scan[g] >= right):
            continue
        if not scan[g] >= PEAK_TOLERANCE * at_solution:
            continue
        m2, iterations2, share2 = _single_offer_newton(value, mu, switching, is_provider, rival, quality, cost,
                                                       grid[g], tol, max_iter, damping)
        if iterations2 == NOT_CONVERGED:
            return m2, iterations2, share2
        iterations += iterations2
        if m2 * share2 > best_profit:
            best_m, best_share, best_profit = m2, share2, m2 * share2
    return best_m, iterations, best_share


@njit(cache=True)
def _mean_logistic(base, inv_mu, m):
    """Mean over users of P_i = 1 / (1 + exp(base_i + m / mu_i)) (the offer's mean share)."""
    total = 0.0
    for i in range(base.shape[0]):
        d = base[i] + m * inv_mu[i]
        total += _logistic_of_minus(d)
    return total / base.shape[0]


@njit(cache=True)
def _price_kernel(value, mu, switching, is_provider, rival, quality, cost, price_init, tol, max_iter,
                  damping, out_price, out_share):
    """Bertrand best-response prices of one lab's ``t`` offers against fixed rivals.

    Solves the multi-product logit first-order conditions (D3 of docs/ODD.md) in the markups
    ``m = p - c``:

        S_o - Lambda_o m_o + sum_o' Gamma_oo' m_o' = 0,
        S_o = sum_i P_io,  Lambda_o = sum_i P_io / mu_i,  Gamma_oo' = sum_i P_io P_io' / mu_i,

    for one offer ``p = c + sum_i P_i / sum_i P_i (1 - P_i) / mu_i`` (docs/ODD.md §7.6-§7.11), and with
    homogeneous users ``p - c = mu / (1 - sum of the lab's shares)``. One offer: bracketed Newton
    (:func:`_single_offer_newton`); several: Newton with backtracking on profit, falling back to the
    zeta step of Morrow and Skerlos (2011) (:func:`_multi_offer_newton`). Steps start at ``damping``.
    An offer whose mean share is below ``NEGLIGIBLE_SHARE`` sells (almost) nothing at any nearby
    price, so its markup does not affect profit and is left out of the convergence test.
    Stops when every price moves by less than ``tol`` relative. Writes prices and mean shares;
    returns the number of iterations, or -1 if ``max_iter`` was reached.
    """
    n = value.shape[0]
    t = quality.shape[0]
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
            value, mu, switching, is_provider, rival, quality[0], cost[0], markup[0], tol, max_iter, damping)
        out_price[0] = cost[0] + markup[0]
        return iterations
    prob = np.empty((n, t))
    iterations = _multi_offer_newton(value, mu, switching, is_provider, rival, quality, cost, markup, tol,
                                     max_iter, damping, prob)
    _own_probabilities(value, mu, switching, is_provider, rival, quality, cost, markup, prob)
    for o in range(t):
        out_price[o] = cost[o] + markup[o]
        share = 0.0
        for i in range(n):
            share += prob[i, o]
        out_share[o] = share / n
    return iterations


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
def _lab_profit_terms(value, mu, switching, is_provider, rival, quality, cost, markup, prob, grad, hess):
    """Profit per user-task ``pi(m) = mean_i M_i`` with ``M_i = sum_o m_o P_io``, its gradient and Hessian:

        g_o = sum_i P_io (1 - (m_o - M_i) / mu_i)                              (D3, = 0 at the optimum)
        H_oq = sum_i [ -P_io (d_oq - P_iq) / mu_i * (1 - (m_o - M_i) / mu_i)
                       + P_io / mu_i * (-d_oq + P_iq (1 - (m_q - M_i) / mu_i)) ].

    ``prob`` receives P_io, ``grad`` and ``hess`` the derivatives; returns the profit."""
    n = value.shape[0]
    t = quality.shape[0]
    _own_probabilities(value, mu, switching, is_provider, rival, quality, cost, markup, prob)
    profit = 0.0
    for o in range(t):
        grad[o] = 0.0
        for q in range(t):
            hess[o, q] = 0.0
    for i in range(n):
        inv_mu = 1.0 / mu[i]
        big_m = 0.0
        for o in range(t):
            big_m += markup[o] * prob[i, o]
        profit += big_m
        for o in range(t):
            keep_o = 1.0 - (markup[o] - big_m) * inv_mu
            grad[o] += prob[i, o] * keep_o
            for q in range(t):
                delta = 1.0 if o == q else 0.0
                keep_q = 1.0 - (markup[q] - big_m) * inv_mu
                hess[o, q] += (-prob[i, o] * (delta - prob[i, q]) * inv_mu * keep_o
                               + prob[i, o] * inv_mu * (-delta + prob[i, q] * keep_q))
    return profit / n


@njit(cache=True)
def _multi_offer_newton(value, mu, switching, is_provider, rival, quality, cost, markup, tol, max_iter, damping,
                        prob):
    """Newton's method with a Levenberg-Marquardt shift and backtracking on a lab's profit in the
    markups of its ``t`` offers (D3): the step solves ``(-H + lam |diag H|) d = g`` with the smallest
    ``lam`` (0, else growing from 1e-6) that makes the matrix positive definite, and
    is halved from ``damping`` until the markups stay positive and profit does not fall. Offers with a
    negligible share are held fixed. Updates ``markup`` in place; returns iterations or -1."""
    n = value.shape[0]
    t = quality.shape[0]
    grad = np.empty(t)
    hess = np.empty((t, t))
    step = np.empty(t)
    trial = np.empty(t)
    trial_grad = np.empty(t)
    trial_hess = np.empty((t, t))
    trial_prob = np.empty((n, t))
    system = np.empty((t, t))
    rhs = np.empty(t)
    active = np.empty(t, dtype=np.bool_)
    profit = _lab_profit_terms(value, mu, switching, is_provider, rival, quality, cost, markup, prob, grad, hess)
    for it in range(max_iter):
        for o in range(t):
            share = 0.0
            for i in range(n):
                share += prob[i, o]
            active[o] = share >= NEGLIGIBLE_SHARE * n
        # Levenberg-Marquardt: the smallest shift lam >= 0 that makes -H + lam |diag H| positive
        # definite, so that the step solves (-H + lam |diag H|) d = g and is an ascent direction even
        # where profit is not concave (lam = 0 is the Newton step); the diagonal scaling gives each
        # offer a step on the scale of its own curvature, however small its share.
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
                break
            shift = 4.0 * shift if shift > 0.0 else 1e-6
        alpha = damping
        accepted = False
        for _ in range(60):
            positive = True
            for o in range(t):
                trial[o] = markup[o] + alpha * step[o]
                if not trial[o] > 0.0:
                    positive = False
            if positive:
                trial_profit = _lab_profit_terms(value, mu, switching, is_provider, rival, quality, cost, trial,
                                                 trial_prob, trial_grad, trial_hess)
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
        profit = trial_profit
        if converged:
            return it + 1
    return NOT_CONVERGED


def best_response_prices(value, mu, switching, is_provider, rival, quality, cost, price_init,
                         tol: float = 1e-12, max_iter: int = 500, *, validate: bool = True,
                         dampings: tuple[float, ...] = (1.0, 0.5, 0.25)):
    """Profit-maximising prices of one lab's offers given the rivals' log-sums ``rival`` (n,).

    Returns ``(prices, mean_shares, iterations)``; ``iterations`` is -1 when the fixed point did
    not converge with any of ``dampings`` (the caller names step, lab and task in its error).
    ``validate=False`` skips the input checks, for callers that pass arrays already checked.
    A small ``max_iter`` with ``dampings=(1.0,)`` gives a cheap approximate solve (screening).
    """
    if validate:
        value = _vector(value, "value")
        n = value.size
        mu = _vector(mu, "mu", positive=True, size=n)
        switching = _vector(switching, "switching", size=n)
        rival = _vector(rival, "rival", size=n)
        is_provider = np.ascontiguousarray(is_provider, dtype=np.bool_)
        quality = _vector(quality, "quality")
        cost = _vector(cost, "cost", size=quality.size)
        price_init = _vector(price_init, "price_init", size=quality.size)
    prices = np.empty(quality.size)
    shares = np.empty(quality.size)
    iterations = NOT_CONVERGED
    for damping in dampings:
        iterations = _price_kernel(value, mu, switching, is_provider, rival, quality, cost, price_init,
                                   tol, max_iter, damping, prices, shares)
        if iterations != NOT_CONVERGED:
            break
    return prices, shares, iterations


# --------------------------------------------------------------------------------------------------
# Users' draws of their next provider (docs/ODD.md §7.4)
# --------------------------------------------------------------------------------------------------

@njit(cache=True)
def _sample_provider_kernel(prob, uniform, owner, out_provider):
    """Inverse-CDF draw of each user's choice from row i of ``prob`` with the draw ``uniform[i]``.

    The new provider is the owner of the chosen offer, or -1 for the outside option (last column)
    and for offers without an owner (self-hosting).
    """
    n, columns = prob.shape
    m = columns - 1
    for i in range(n):
        cumulative = 0.0
        chosen = m
        for o in range(m):
            cumulative += prob[i, o]
            if uniform[i] < cumulative:
                chosen = o
                break
        out_provider[i] = owner[chosen] if chosen < m else -1


def sample_providers(prob: np.ndarray, uniform: np.ndarray, owner: np.ndarray) -> np.ndarray:
    """Each user's next provider (lab id or -1) drawn from its choice probabilities."""
    prob = np.ascontiguousarray(prob, dtype=np.float64)
    uniform = _vector(uniform, "uniform", size=prob.shape[0])
    owner = np.ascontiguousarray(owner, dtype=np.int64)
    if prob.ndim != 2 or prob.shape[1] != owner.size + 1:
        raise ValueError("prob must have one column per offer plus the outside option")
    out = np.empty(prob.shape[0], dtype=np.int64)
    _sample_provider_kernel(prob, uniform, owner, out)
    return out


# --------------------------------------------------------------------------------------------------
# Input validation shared by the public wrappers
# --------------------------------------------------------------------------------------------------

def _vector(x, name: str, *, positive: bool = False, size: int | None = None) -> np.ndarray:
    arr = np.ascontiguousarray(x, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional (got shape {arr.shape})")
    if size is not None and arr.size != size:
        raise ValueError(f"{name} must have {size} entries (got {arr.size})")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite")
    if positive and not np.all(arr > 0):
        raise ValueError(f"{name} must be > 0")
    return arr


def _users(value, mu, switching, provider, outside):
    value = _vector(value, "value")
    n = value.size
    return (value, _vector(mu, "mu", positive=True, size=n), _vector(switching, "switching", size=n),
            np.ascontiguousarray(provider, dtype=np.int64), _vector(outside, "outside", size=n))


def _offers(quality, price, owner):
    quality = _vector(quality, "quality")
    return (quality, _vector(price, "price", size=quality.size),
            np.ascontiguousarray(owner, dtype=np.int64))
