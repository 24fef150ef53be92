"""Numba market kernels (docs/ODD.md §7.3-§7.6): marginal costs, utility, logit choice, best-response prices.

Conventions shared by every kernel
----------------------------------
The market of one task type has ``n`` users and ``m`` *offers*. An offer is one product (model
variant, inference multiplier k, price) of one lab; a lab may sell several offers (tiers) on a task
type, and an offer whose owner is ``-1`` is not sold by a lab (self-hosting an open-weight model).
Per user ``i``:

* ``value[i]``       value of a successful task, ``v_i`` [$/task]
* ``mu[i]``          logit scale ``mu_i = logit_scale * v_i`` [$]
* ``difficulty[i]``  difficulty of the user's tasks ``d_i`` [eOOM]
* ``switching[i]``   switching cost ``s_i`` [$], the bonus of staying with the current provider
* ``provider[i]``    id of the lab the user bought from last step, ``-1`` for none
* ``outside[i]``     utility of the outside option ``u_i0 = max(0, v_i h - wage_i)`` [$]

Per offer ``o``: capability ``E_o`` [eOOM], brand ``xi_o`` [logit units], ``price[o]`` [$/task],
``owner[o]`` (lab id or -1). Utility (equation D1 of docs/ODD.md):

    u_io = g_io - price_o + s_i * 1[owner_o == provider_i],   g_io = v_i * P(E_o; d_i) + mu_i * xi_o,

where the *gross utility* ``g_io`` (:func:`gross_utility`) is computed once per offer table, and
choice probabilities are logit with scale ``mu_i`` (D2), evaluated with log-sum-exp:

    P_io = exp(u_io / mu_i - L_i),   L_i = log(exp(u_i0 / mu_i) + sum_o exp(u_io / mu_i)).

Every public function validates its inputs and calls a private ``@njit(cache=True)`` kernel that
writes into preallocated arrays and takes its random draws as arguments (the QuantEcon pattern).
The plain-Python reference of each kernel, used by the tests, is in :mod:`aimarket.simulation.reference`.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from numba import njit

from aimarket.simulation.laws import marginal_cost_per_task, success_probability
from aimarket.simulation.numba_cache import renew_when_changed

NOT_CONVERGED = -1
NEGLIGIBLE_SHARE = 1e-12  # mean share below which an offer's markup is left out of the convergence test
# Multi-offer Newton: FLAT_STEPS accepted steps in a row that raise profit by at most FLAT_PROFIT
# (relative) end it as converged: the markups move along a ridge on which profit is flat (two offers
# that users value alike), so their split does not matter to the lab.
FLAT_PROFIT = 1e-13
FLAT_STEPS = 8


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


# --------------------------------------------------------------------------------------------------
# Gross utility of every offer to every user (docs/ODD.md §7.4, L6 and D1)
# --------------------------------------------------------------------------------------------------

@njit(cache=True)
def _gross_utility_kernel(eoom, brand, value, mu, difficulty, width, out):
    """out[i, o] = v_i * P(E_o; d_i, w) + mu_i * xi_o, with the task success law (L6)
    ``P = 1 / (1 + exp(-(E_o - d_i) / w))`` at the user's own difficulty ``d_i``."""
    for i in range(value.shape[0]):
        for o in range(eoom.shape[0]):
            out[i, o] = value[i] * success_probability(eoom[o], difficulty[i], width) + mu[i] * brand[o]


def gross_utility(eoom, brand, value, mu, difficulty, width: float) -> np.ndarray:
    """Gross utility ``v_i P_i(E_o) + mu_i xi_o`` [$] of offers of capability ``eoom`` (m,) [eOOM] and
    brand ``brand`` (m,) [logit units] to users of value ``value``, scale ``mu`` [$] and task
    difficulty ``difficulty`` [eOOM] (n,); ``width`` is the success curve's width [eOOM]. Returns (n, m)."""
    eoom = _vector(eoom, "eoom")
    brand = _vector(brand, "brand", size=eoom.size)
    value = _vector(value, "value")
    mu = _vector(mu, "mu", positive=True, size=value.size)
    difficulty = _vector(difficulty, "difficulty", size=value.size)
    if not width > 0:
        raise ValueError(f"width must be > 0 (got {width})")
    out = np.empty((value.size, eoom.size))
    _gross_utility_kernel(eoom, brand, value, mu, difficulty, float(width), out)
    return out


# --------------------------------------------------------------------------------------------------
# Logit choice (docs/ODD.md §7.4, D1-D2)
# --------------------------------------------------------------------------------------------------

@njit(cache=True)
def _choice_kernel(gross, mu, switching, provider, outside, price, owner, out_prob, out_logsum):
    """Logit choice probabilities of every user over every offer and the outside option (D1-D2).

    out_prob[i, o] = exp(u_io / mu_i - L_i) for o < m and out_prob[i, m] = exp(u_i0 / mu_i - L_i);
    out_logsum[i] = L_i (log-sum-exp, so that utilities and scales spanning 1e-6..1e6 stay finite).
    """
    n = gross.shape[0]
    m = price.shape[0]
    z = np.empty(m + 1)
    for i in range(n):
        inv_mu = 1.0 / mu[i]
        z_max = outside[i] * inv_mu
        z[m] = z_max
        for o in range(m):
            u = gross[i, o] - price[o]
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


def choice_probabilities(gross, mu, switching, provider, outside, price, owner):
    """Choice probabilities (n, m + 1), last column the outside option, and log-sums L_i (n,)."""
    gross, mu, switching, provider, outside, price, owner = table_inputs(gross, mu, switching, provider, outside,
                                                                         price, owner)
    prob = np.empty((mu.size, price.size + 1))
    logsum = np.empty(mu.size)
    _choice_kernel(gross, mu, switching, provider, outside, price, owner, prob, logsum)
    return prob, logsum


# --------------------------------------------------------------------------------------------------
# Rivals' part of the logit denominator (docs/ODD.md §7.6)
# --------------------------------------------------------------------------------------------------

@njit(cache=True)
def _rival_row(gross, mu, switching, provider, outside, price, owner, lab, i):
    """R_i of user ``i`` (see :func:`_rival_log_sum_kernel`) in one pass: a running maximum and a sum
    rescaled when the maximum moves."""
    inv_mu = 1.0 / mu[i]
    z_max = outside[i] * inv_mu
    total = 1.0
    for o in range(price.shape[0]):
        if owner[o] == lab:
            continue
        u = gross[i, o] - price[o]
        if owner[o] >= 0 and owner[o] == provider[i]:
            u += switching[i]
        z = u * inv_mu
        if z > z_max:
            total = total * math.exp(z_max - z) + 1.0
            z_max = z
        else:
            total += math.exp(z - z_max)
    return z_max + math.log(total)


@njit(cache=True)
def _rival_log_sum_kernel(gross, mu, switching, provider, outside, price, owner, lab, out):
    """R_i = log(exp(u_i0 / mu_i) + sum_{o: owner_o != lab} exp(u_io / mu_i)).

    The deviating lab's offers are left out, so that a candidate offer of ``lab`` is evaluated
    in O(users) as ``L_i = logaddexp(R_i, own terms)``.
    """
    for i in range(gross.shape[0]):
        out[i] = _rival_row(gross, mu, switching, provider, outside, price, owner, lab, i)


def rival_log_sums(gross, mu, switching, provider, outside, price, owner, lab: int, *,
                   validate: bool = True) -> np.ndarray:
    """Per user, the log of the logit denominator without the offers of ``lab`` (n,).
    ``validate=False`` skips the input checks, for callers that pass arrays already checked."""
    if validate:
        gross, mu, switching, provider, outside, price, owner = table_inputs(gross, mu, switching, provider, outside,
                                                                             price, owner)
    out = np.empty(mu.size)
    _rival_log_sum_kernel(gross, mu, switching, provider, outside, price, owner, int(lab), out)
    return out


# --------------------------------------------------------------------------------------------------
# Best-response prices of one lab's offers against fixed rivals (docs/ODD.md §7.6)
# --------------------------------------------------------------------------------------------------

@njit(cache=True)
def _own_probabilities(gross, mu, switching, is_provider, rival, cost, markup, prob):
    """prob[i, o] = exp(z_io - logaddexp(R_i, log sum_o' exp(z_io'))) with
    z_io = (v_i q_o - c_o - m_o + s_i 1[provider_i is this lab]) / mu_i."""
    n = gross.shape[0]
    t = cost.shape[0]
    for i in range(n):
        inv_mu = 1.0 / mu[i]
        bonus = switching[i] if is_provider[i] else 0.0
        z_max = rival[i]
        for o in range(t):
            prob[i, o] = (gross[i, o] - cost[o] - markup[o] + bonus) * inv_mu
            if prob[i, o] > z_max:
                z_max = prob[i, o]
        total = math.exp(rival[i] - z_max)
        for o in range(t):
            total += math.exp(prob[i, o] - z_max)
        log_sum = z_max + math.log(total)
        for o in range(t):
            prob[i, o] = math.exp(prob[i, o] - log_sum)


@njit(cache=True)
def _single_offer_newton(gross, mu, switching, is_provider, rival, cost, markup, tol, max_iter, damping):
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
    n = gross.shape[0]
    inv_mu = np.empty(n)
    base = np.empty(n)  # d_i = base_i + m / mu_i = R_i - z_i
    for i in range(n):
        inv_mu[i] = 1.0 / mu[i]
        bonus = switching[i] if is_provider[i] else 0.0
        base[i] = rival[i] - (gross[i] - cost + bonus) * inv_mu[i]
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
def _scan_profit(gross, mu, switching, is_provider, rival, cost, markup, stride):
    """Profit per task ``m * mean P(m)`` on every ``stride``-th user (the global scan's yardstick)."""
    total = 0.0
    count = 0
    for i in range(0, gross.shape[0], stride):
        bonus = switching[i] if is_provider[i] else 0.0
        d = rival[i] - (gross[i] - cost + bonus - markup) / mu[i]
        total += _logistic_of_minus(d)
        count += 1
    return markup * total / count


@njit(cache=True)
def _best_single_offer(gross, mu, switching, is_provider, rival, cost, markup, tol, max_iter, damping):
    """The single-offer best response, global over the peaks of profit in the markup (D3).

    With heterogeneous users profit can have several peaks in the markup (a low price for the mass
    market, a high one for the users who value the task most); Newton finds the one near its start.
    Once it has converged, profit is scanned on ``GLOBAL_GRID_POINTS`` markups log-spaced from
    ``min(mu) / 4`` to ``20 max(mu)`` over a subsample of users. Newton restarts from every other
    peak of the scan (a grid point above both neighbours, not next to the solution) whose profit is
    at least ``PEAK_TOLERANCE`` of the solution's on the subsample, and the most profitable solution
    on all users is kept. Returns (markup, iterations of all solves, mean share), -1 if any failed.
    """
    m, iterations, share = _single_offer_newton(gross, mu, switching, is_provider, rival, cost, markup,
                                                tol, max_iter, damping)
    if iterations == NOT_CONVERGED:
        return m, iterations, share
    n = gross.shape[0]
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
        scan[g] = _scan_profit(gross, mu, switching, is_provider, rival, cost, grid[g], stride)
        if abs(math.log(grid[g] / m)) < abs(math.log(grid[nearest] / m)):
            nearest = g
    at_solution = _scan_profit(gross, mu, switching, is_provider, rival, cost, m, stride)
    best_m, best_share, best_profit = m, share, m * share
    for g in range(GLOBAL_GRID_POINTS):
        left = scan[g - 1] if g > 0 else -1.0
        right = scan[g + 1] if g < GLOBAL_GRID_POINTS - 1 else -1.0
        if abs(g - nearest) <= 1 or not (scan[g] > left and scan[g] >= right):
            continue
        if not scan[g] >= PEAK_TOLERANCE * at_solution:
            continue
        m2, iterations2, share2 = _single_offer_newton(gross, mu, switching, is_provider, rival, cost,
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
def _price_kernel(gross, mu, switching, is_provider, rival, cost, price_init, tol, max_iter,
                  damping, warm, out_price, out_share):
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
            gross[:, 0], mu, switching, is_provider, rival, cost[0], markup[0], tol, max_iter, damping)
        out_price[0] = cost[0] + markup[0]
        return iterations
    # Start from the best common markup: with one markup m on every offer the lab's offers act as one
    # offer of gross utility w_i = mu_i log sum_o exp((g_io - c_o) / mu_i) at cost 0 (exact for
    # homogeneous users), solved globally like a single offer; Newton then moves the markups apart.
    inclusive = np.empty(n)
    for i in range(n):
        top = (gross[i, 0] - cost[0]) / mu[i]
        for o in range(1, t):
            top = max(top, (gross[i, o] - cost[o]) / mu[i])
        total = 0.0
        for o in range(t):
            total += math.exp((gross[i, o] - cost[o]) / mu[i] - top)
        inclusive[i] = mu[i] * (top + math.log(total))
    prob = np.empty((n, t))
    if warm:
        positive = True
        for o in range(t):
            positive = positive and price_init[o] - cost[o] > 0.0
        if positive:
            iterations = _multi_offer_newton(gross, mu, switching, is_provider, rival, cost, markup, tol,
                                             max_iter, damping, prob)
            if iterations != NOT_CONVERGED:
                _write_prices(gross, mu, switching, is_provider, rival, cost, markup, prob, out_price, out_share)
                return iterations
            for o in range(t):
                markup[o] = price_init[o] - cost[o]
    start = 0.0
    for o in range(t):
        start += markup[o]
    common, start_iterations, _ = _best_single_offer(inclusive, mu, switching, is_provider, rival, 0.0, start / t,
                                                     tol, max_iter, damping)
    iterations = NOT_CONVERGED
    if start_iterations != NOT_CONVERGED:
        for o in range(t):
            markup[o] = common
        iterations = _multi_offer_newton(gross, mu, switching, is_provider, rival, cost, markup, tol,
                                         max_iter, damping, prob)
        if iterations != NOT_CONVERGED:
            iterations += start_iterations
    _write_prices(gross, mu, switching, is_provider, rival, cost, markup, prob, out_price, out_share)
    return iterations


@njit(cache=True)
def _write_prices(gross, mu, switching, is_provider, rival, cost, markup, prob, out_price, out_share):
    """out_price = c + m and out_share = mean_i P_io at the markups ``markup`` (D2)."""
    n = gross.shape[0]
    _own_probabilities(gross, mu, switching, is_provider, rival, cost, markup, prob)
    for o in range(cost.shape[0]):
        out_price[o] = cost[o] + markup[o]
        share = 0.0
        for i in range(n):
            share += prob[i, o]
        out_share[o] = share / n


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
def _lab_profit_terms(gross, mu, switching, is_provider, rival, cost, markup, prob, grad, hess):
    """Profit per user-task ``pi(m) = mean_i M_i`` with ``M_i = sum_o m_o P_io``, its gradient and Hessian:

        g_o = sum_i P_io (1 - (m_o - M_i) / mu_i)                              (D3, = 0 at the optimum)
        H_oq = sum_i [ -P_io (d_oq - P_iq) / mu_i * (1 - (m_o - M_i) / mu_i)
                       + P_io / mu_i * (-d_oq + P_iq (1 - (m_q - M_i) / mu_i)) ].

    ``prob`` receives P_io, ``grad`` and ``hess`` the derivatives; returns the profit."""
    n = gross.shape[0]
    t = cost.shape[0]
    _own_probabilities(gross, mu, switching, is_provider, rival, cost, markup, prob)
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
def _multi_offer_newton(gross, mu, switching, is_provider, rival, cost, markup, tol, max_iter, damping,
                        prob):
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
    rhs = np.empty(t)
    active = np.empty(t, dtype=np.bool_)
    profit = _lab_profit_terms(gross, mu, switching, is_provider, rival, cost, markup, prob, grad, hess)
    stalled = 0
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
        solved = False
        for _ in range(80):
            for o in range(t):
                rhs[o] = grad[o] if active[o] else 0.0
                for q in range(t):
                    if active[o] and active[q]:
                        system[o, q] = -hess[o, q] + (shift * max(abs(hess[o, o]), 1e-300) if o == q else 0.0)
                    else:
                        system[o, q] = 1.0 if o == q else 0.0
            if _cholesky_solve(system, rhs, step):
                solved = True
                break
            shift = 4.0 * shift if shift > 0.0 else 1e-6
        if not solved:  # no shift made the system positive definite (a non-finite Hessian): no step
            return NOT_CONVERGED
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
        stalled = stalled + 1 if trial_profit <= profit * (1.0 + FLAT_PROFIT) else 0
        profit = trial_profit
        if converged or stalled >= FLAT_STEPS:
            return it + 1
    return NOT_CONVERGED


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
                                   tol, max_iter, damping, bool(warm), prices, shares)
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

def price_inputs(gross, mu, switching, is_provider, rival, cost, name: str = "gross", per_offer: str = "cost"):
    """The checked, contiguous arrays of a lab's offers against its rivals' log-sums: ``(gross, mu,
    switching, is_provider, rival, cost)`` with n users (``mu``) and one column of ``gross`` per entry of
    the per-offer vector ``cost`` (named ``per_offer`` in errors: the prices where those are given)."""
    mu = _vector(mu, "mu", positive=True)
    n = mu.size
    switching = _vector(switching, "switching", size=n)
    rival = _vector(rival, "rival", size=n)
    is_provider = np.ascontiguousarray(is_provider, dtype=np.bool_)
    cost = _vector(cost, per_offer)
    return _matrix(gross, name, (n, cost.size)), mu, switching, is_provider, rival, cost


def table_inputs(gross, mu, switching, provider, outside, price, owner):
    """The checked, contiguous arrays of a whole offer table: ``(gross, mu, switching, provider,
    outside, price, owner)`` with n users (``mu``) and one column of ``gross`` per offer."""
    mu, switching, provider, outside = _users(mu, switching, provider, outside)
    price, owner = _offers(price, owner)
    return _matrix(gross, "gross", (mu.size, price.size)), mu, switching, provider, outside, price, owner


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


def _matrix(x, name: str, shape: tuple[int, int]) -> np.ndarray:
    arr = np.ascontiguousarray(x, dtype=np.float64)
    if arr.shape != shape:
        raise ValueError(f"{name} must have shape {shape} (got {arr.shape})")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite")
    return arr


def _users(mu, switching, provider, outside):
    mu = _vector(mu, "mu", positive=True)
    n = mu.size
    return (mu, _vector(switching, "switching", size=n), np.ascontiguousarray(provider, dtype=np.int64),
            _vector(outside, "outside", size=n))


def _offers(price, owner):
    price = _vector(price, "price")
    return price, np.ascontiguousarray(owner, dtype=np.int64)


renew_when_changed(globals(), __file__, Path(__file__).with_name("laws.py"))  # see numba_cache
