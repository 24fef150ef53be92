"""Plain-Python twins of the best-response price kernels (D3, §7.6-§7.10):
:mod:`aimarket.simulation.kernels.single_offer`, :mod:`~aimarket.simulation.kernels.multi_offer` and
:mod:`~aimarket.simulation.kernels.prices`."""

from __future__ import annotations

import math

from aimarket.simulation.reference.choice import _left_sum, _own_probabilities
from aimarket.simulation.reference.laws import logistic_of_minus


def _single_offer_newton(gross, mu, switching, is_provider, rival, cost, m, tol, max_iter, damping):
    """Newton on F(m) = sum_i P_i (1 - m (1 - P_i) / mu_i) kept in a bracket F(lo) > 0 > F(hi)."""
    inv_mu = [1.0 / x for x in mu]
    base = [rival[i] - (gross[i] - cost + (switching[i] if is_provider[i] else 0.0)) * inv_mu[i]
            for i in range(len(mu))]
    lo, hi = 0.0, math.inf
    for it in range(max_iter):
        f = slope = sold = 0.0
        for i in range(len(mu)):
            d = base[i] + m * inv_mu[i]  # = R_i - z_i
            p = logistic_of_minus(d)
            a = p * (1.0 - p) * inv_mu[i]
            f += p - m * a
            slope -= a * (2.0 - m * (1.0 - 2.0 * p) * inv_mu[i])
            sold += p
        selling = sold >= 1e-12 * len(mu)
        if (selling and f == 0.0) or (not selling and lo == 0.0):
            return m, it + 1
        if f > 0 and selling:
            lo = m
        else:
            hi = m
        new = m + damping * (-f / slope) if slope < 0 else math.nan
        if abs(new - m) <= tol * abs(cost + new):
            return new, it + 1
        if not (lo < new < hi):
            new = 2.0 * m if hi == math.inf else 0.5 * (lo + hi)
        if abs(new - m) <= tol * abs(cost + new):
            return new, it + 1
        m = new
    return m, -1


def best_response_prices(gross, mu, switching, is_provider, rival, cost, price_init,
                         tol=1e-12, max_iter=500, warm=False):
    """Retries with damping 1, 1/2, 1/4 until the fixed point converges, like the kernel's wrapper."""
    for damping in (1.0, 0.5, 0.25):
        result = _price_fixed_point(gross, mu, switching, is_provider, rival, cost, price_init, tol,
                                    max_iter, damping, warm)
        if result[2] != -1:
            break
    return result


def _scan_profit(gross, mu, switching, is_provider, rival, cost, markup, stride):
    total, count = 0.0, 0
    for i in range(0, len(mu), stride):
        bonus = switching[i] if is_provider[i] else 0.0
        d = rival[i] - (gross[i] - cost + bonus - markup) / mu[i]
        total += logistic_of_minus(d)
        count += 1
    return markup * total / count


def _mean_share(gross, mu, switching, is_provider, rival, cost, markup):
    prob = _own_probabilities([[g] for g in gross], mu, switching, is_provider, rival, [cost], [markup])
    return _left_sum(row[0] for row in prob) / len(mu)


def _best_single_offer(gross, mu, switching, is_provider, rival, cost, markup, tol, max_iter, damping):
    """Newton, a scan of 32 log-spaced markups on a subsample, and Newton again from every other peak of
    the scan within 0.7 of the solution's profit; the most profitable solution on all users is kept."""
    m, iterations = _single_offer_newton(gross, mu, switching, is_provider, rival, cost, markup, tol,
                                         max_iter, damping)
    if iterations == -1:
        return m, iterations
    n = len(mu)
    stride = max(1, n // 128)
    sub = [mu[i] for i in range(0, n, stride)]
    low, high = min(sub) * 0.25, max(sub) * 20.0
    grid = [low * (high / low) ** (g / 31) for g in range(32)]
    scan = [_scan_profit(gross, mu, switching, is_provider, rival, cost, x, stride) for x in grid]
    nearest = 0
    for g in range(32):
        if abs(math.log(grid[g] / m)) < abs(math.log(grid[nearest] / m)):
            nearest = g
    at_solution = _scan_profit(gross, mu, switching, is_provider, rival, cost, m, stride)
    best_m = m
    best_profit = m * _mean_share(gross, mu, switching, is_provider, rival, cost, m)
    for g in range(32):
        left = scan[g - 1] if g > 0 else -1.0
        right = scan[g + 1] if g < 31 else -1.0
        if abs(g - nearest) <= 1 or not (scan[g] > left and scan[g] >= right):
            continue
        if not scan[g] >= 0.7 * at_solution:
            continue
        m2, iterations2 = _single_offer_newton(gross, mu, switching, is_provider, rival, cost, grid[g],
                                               tol, max_iter, damping)
        if iterations2 == -1:
            return m2, iterations2
        iterations += iterations2
        profit2 = m2 * _mean_share(gross, mu, switching, is_provider, rival, cost, m2)
        if profit2 > best_profit:
            best_m, best_profit = m2, profit2
    return best_m, iterations


def _price_fixed_point(gross, mu, switching, is_provider, rival, cost, price_init, tol, max_iter,
                       damping, warm=False):
    n, t = len(mu), len(cost)
    mean_mu = _left_sum(mu) / n
    markup = [p - c if p - c > 0 else mean_mu for p, c in zip(price_init, cost, strict=True)]
    if warm and t > 1 and all(p - c > 0 for p, c in zip(price_init, cost, strict=True)):
        warm_markup = list(markup)
        iterations = _multi_offer_newton(gross, mu, switching, is_provider, rival, cost, warm_markup, tol,
                                         max_iter, damping)
        if iterations != -1:
            return _prices_and_shares(gross, mu, switching, is_provider, rival, cost, warm_markup, iterations)
    if t == 1:
        first = [row[0] for row in gross]
        markup[0], iterations = _best_single_offer(first, mu, switching, is_provider, rival, cost[0], markup[0], tol,
                                                   max_iter, damping)
    else:
        inclusive = []
        for i in range(n):
            zs = [(gross[i][o] - cost[o]) / mu[i] for o in range(t)]
            top = max(zs)
            inclusive.append(mu[i] * (top + math.log(_left_sum(math.exp(z - top) for z in zs))))
        common, start_iterations = _best_single_offer(inclusive, mu, switching, is_provider, rival, 0.0,
                                                      _left_sum(markup) / t, tol, max_iter, damping)
        if start_iterations == -1:
            iterations = -1
        else:
            markup = [common] * t
            iterations = _multi_offer_newton(gross, mu, switching, is_provider, rival, cost, markup, tol,
                                             max_iter, damping)
            if iterations != -1:
                iterations += start_iterations
    return _prices_and_shares(gross, mu, switching, is_provider, rival, cost, markup, iterations)


def _prices_and_shares(gross, mu, switching, is_provider, rival, cost, markup, iterations):
    n, t = len(mu), len(cost)
    prob = _own_probabilities(gross, mu, switching, is_provider, rival, cost, markup)
    prices = [cost[o] + markup[o] for o in range(t)]
    shares = [_left_sum(prob[i][o] for i in range(n)) / n for o in range(t)]
    return prices, shares, iterations


def _cholesky_solve(a, b):
    """Cholesky solve of a symmetric positive definite system, as the kernel does it; None if not PD."""
    t = len(b)
    a = [row[:] for row in a]
    for j in range(t):
        diagonal = a[j][j]
        for k in range(j):
            diagonal -= a[j][k] * a[j][k]
        if not diagonal > 0.0:
            return None
        a[j][j] = math.sqrt(diagonal)
        for i in range(j + 1, t):
            total = a[i][j]
            for k in range(j):
                total -= a[i][k] * a[j][k]
            a[i][j] = total / a[j][j]
    x = [0.0] * t
    for i in range(t):
        total = b[i]
        for k in range(i):
            total -= a[i][k] * x[k]
        x[i] = total / a[i][i]
    for i in range(t - 1, -1, -1):
        total = x[i]
        for k in range(i + 1, t):
            total -= a[k][i] * x[k]
        x[i] = total / a[i][i]
    return x


def _lab_profit_terms(gross, mu, switching, is_provider, rival, cost, markup):
    """Profit mean_i M_i, its gradient g_o and Hessian H_oq in the markups (see the kernel)."""
    n, t = len(mu), len(cost)
    prob = _own_probabilities(gross, mu, switching, is_provider, rival, cost, markup)
    profit = 0.0
    grad = [0.0] * t
    hess = [[0.0] * t for _ in range(t)]
    for i in range(n):
        inv_mu = 1.0 / mu[i]
        big_m = 0.0
        for o in range(t):
            big_m += markup[o] * prob[i][o]
        profit += big_m
        keep = [1.0 - (markup[o] - big_m) * inv_mu for o in range(t)]
        for o in range(t):
            grad[o] += prob[i][o] * keep[o]
            for q in range(t):
                delta = 1.0 if o == q else 0.0
                hess[o][q] += (-prob[i][o] * (delta - prob[i][q]) * inv_mu * keep[o]
                               + prob[i][o] * inv_mu * (-delta + prob[i][q] * keep[q]))
    return profit / n, grad, hess, prob


def _multi_offer_newton(gross, mu, switching, is_provider, rival, cost, markup, tol, max_iter, damping):
    """Newton with a Levenberg-Marquardt shift and backtracking on profit (see the kernel)."""
    n, t = len(mu), len(cost)
    profit, grad, hess, prob = _lab_profit_terms(gross, mu, switching, is_provider, rival, cost, markup)
    stalled = 0
    for it in range(max_iter):
        active = [_left_sum(prob[i][o] for i in range(n)) >= 1e-12 * n for o in range(t)]
        shift = 0.0
        for _ in range(80):
            rhs = [grad[o] if active[o] else 0.0 for o in range(t)]
            system = [[(-hess[o][q] + (shift * max(abs(hess[o][o]), 1e-300) if o == q else 0.0))
                       if (active[o] and active[q]) else (1.0 if o == q else 0.0) for q in range(t)]
                      for o in range(t)]
            step = _cholesky_solve(system, rhs)
            if step is not None:
                break
            shift = 4.0 * shift if shift > 0.0 else 1e-6
        if step is None:
            return -1
        alpha = damping
        accepted = None
        for _ in range(60):
            trial = [markup[o] + alpha * step[o] for o in range(t)]
            if all(x > 0.0 for x in trial):
                result = _lab_profit_terms(gross, mu, switching, is_provider, rival, cost, trial)
                finite = all(math.isfinite(x) for x in [result[0], *result[1], *(h for row in result[2] for h in row)])
                if finite and result[0] >= profit * (1.0 - 1e-15):
                    accepted = result
                    break
            alpha *= 0.5
        if accepted is None:
            return it + 1
        converged = all(not active[o] or abs(trial[o] - markup[o]) <= tol * abs(cost[o] + trial[o])
                        for o in range(t))
        markup[:] = trial
        stalled = stalled + 1 if accepted[0] <= profit * (1.0 + 1e-13) else 0
        profit, grad, hess, prob = accepted
        if converged or stalled >= 8:
            return it + 1
    return -1
