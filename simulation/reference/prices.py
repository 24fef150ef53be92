"""Plain-Python twins of the best-response price kernels (D3, §7.6-§7.10):
:mod:`aimarket.simulation.kernels.single_offer`, :mod:`~aimarket.simulation.kernels.multi_offer` and
:mod:`~aimarket.simulation.kernels.prices`."""

from __future__ import annotations

import math

from aimarket.simulation.reference.choice import _left_sum
from aimarket.simulation.reference.laws import logistic_of_minus


def _log_odds(gross, mu, switching, is_provider, rival, cost):
    """inv_mu_i = 1 / mu_i and odds_io = (g_io - c_o + s_i 1[provider_i is the lab]) * inv_mu_i - R_i."""
    inv_mu = [1.0 / x for x in mu]
    odds = [[(gross[i][o] - cost[o] + (switching[i] if is_provider[i] else 0.0)) * inv_mu[i] - rival[i]
             for o in range(len(cost))] for i in range(len(mu))]
    return inv_mu, odds


def _single_offer_newton(odds, inv_mu, cost, m, tol, max_iter, damping):
    """Newton on F(m) = sum_i P_i (1 - m (1 - P_i) / mu_i) kept in a bracket F(lo) > 0 > F(hi)."""
    lo, hi = 0.0, math.inf
    for it in range(max_iter):
        f = slope = sold = 0.0
        for i in range(len(odds)):
            p = logistic_of_minus(m * inv_mu[i] - odds[i])
            a = p * (1.0 - p) * inv_mu[i]
            f += p - m * a
            slope -= a * (2.0 - m * (1.0 - 2.0 * p) * inv_mu[i])
            sold += p
        selling = sold >= 1e-12 * len(odds)
        if (selling and f == 0.0) or (not selling and lo == 0.0):
            return m, it + 1, _mean_logistic(odds, inv_mu, m)
        if f > 0 and selling:
            lo = m
        else:
            hi = m
        new = m + damping * (-f / slope) if slope < 0 else math.nan
        if abs(new - m) <= tol * abs(cost + new):
            return new, it + 1, _mean_logistic(odds, inv_mu, new)
        if not (lo < new < hi):
            new = 2.0 * m if hi == math.inf else 0.5 * (lo + hi)
        if abs(new - m) <= tol * abs(cost + new):
            return new, it + 1, _mean_logistic(odds, inv_mu, new)
        m = new
    return m, -1, _mean_logistic(odds, inv_mu, m)


def _mean_logistic(odds, inv_mu, m):
    return _left_sum(logistic_of_minus(m * inv_mu[i] - odds[i]) for i in range(len(odds))) / len(odds)


def best_response_prices(gross, mu, switching, is_provider, rival, cost, price_init,
                         tol=1e-12, max_iter=500, warm=False):
    """Retries with damping 1, 1/2, 1/4 until the fixed point converges, like the kernel's wrapper."""
    for damping in (1.0, 0.5, 0.25):
        result = _price_fixed_point(gross, mu, switching, is_provider, rival, cost, price_init, tol,
                                    max_iter, damping, warm)
        if result[2] != -1:
            break
    return result


def _scan_profit(odds, inv_mu, markup, stride):
    total, count = 0.0, 0
    for i in range(0, len(odds), stride):
        total += logistic_of_minus(markup * inv_mu[i] - odds[i])
        count += 1
    return markup * total / count


def _best_single_offer(odds, mu, inv_mu, cost, markup, tol, max_iter, damping):
    """Newton, a scan of 32 log-spaced markups on a subsample, and Newton again from every other peak of
    the scan within 0.7 of the solution's profit; the most profitable solution on all users is kept.
    Returns (markup, iterations, mean share)."""
    m, iterations, share = _single_offer_newton(odds, inv_mu, cost, markup, tol, max_iter, damping)
    if iterations == -1:
        return m, iterations, share
    n = len(mu)
    stride = max(1, n // 128)
    sub = [mu[i] for i in range(0, n, stride)]
    low, high = min(sub) * 0.25, max(sub) * 20.0
    grid = [low * (high / low) ** (g / 31) for g in range(32)]
    scan = [_scan_profit(odds, inv_mu, x, stride) for x in grid]
    nearest = 0
    for g in range(32):
        if abs(math.log(grid[g] / m)) < abs(math.log(grid[nearest] / m)):
            nearest = g
    at_solution = _scan_profit(odds, inv_mu, m, stride)
    best_m, best_share, best_profit = m, share, m * share
    for g in range(32):
        left = scan[g - 1] if g > 0 else -1.0
        right = scan[g + 1] if g < 31 else -1.0
        if abs(g - nearest) <= 1 or not (scan[g] > left and scan[g] >= right):
            continue
        if not scan[g] >= 0.7 * at_solution:
            continue
        m2, iterations2, share2 = _single_offer_newton(odds, inv_mu, cost, grid[g], tol, max_iter, damping)
        if iterations2 == -1:
            return m2, iterations2, share2
        iterations += iterations2
        if m2 * share2 > best_profit:
            best_m, best_share, best_profit = m2, share2, m2 * share2
    return best_m, iterations, best_share


def _price_fixed_point(gross, mu, switching, is_provider, rival, cost, price_init, tol, max_iter,
                       damping, warm=False):
    n, t = len(mu), len(cost)
    inv_mu, odds = _log_odds(gross, mu, switching, is_provider, rival, cost)
    mean_mu = _left_sum(mu) / n
    markup = [p - c if p - c > 0 else mean_mu for p, c in zip(price_init, cost, strict=True)]
    if t == 1:
        markup[0], iterations, share = _best_single_offer([row[0] for row in odds], mu, inv_mu, cost[0], markup[0],
                                                          tol, max_iter, damping)
        return [cost[0] + markup[0]], [share], iterations
    if warm and all(p - c > 0 for p, c in zip(price_init, cost, strict=True)):
        warm_markup = list(markup)
        iterations, shares = _multi_offer_newton(odds, inv_mu, cost, warm_markup, tol, max_iter, damping)
        if iterations != -1:
            return [c + m for c, m in zip(cost, warm_markup, strict=True)], [x / n for x in shares], iterations
    inclusive = [_log_sum_exp_row(row) for row in odds]
    common, start_iterations, _ = _best_single_offer(inclusive, mu, inv_mu, 0.0, _left_sum(markup) / t, tol,
                                                     max_iter, damping)
    if start_iterations == -1:
        iterations = -1
        shares = _lab_profit_terms(odds, inv_mu, markup)[1]
    else:
        markup = [common] * t
        iterations, shares = _multi_offer_newton(odds, inv_mu, cost, markup, tol, max_iter, damping)
        if iterations != -1:
            iterations += start_iterations
    return [c + m for c, m in zip(cost, markup, strict=True)], [x / n for x in shares], iterations


def _log_sum_exp_row(zs):
    top = zs[0]
    for z in zs[1:]:
        top = max(top, z)
    return top + math.log(_left_sum(math.exp(z - top) for z in zs))


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


def _lab_profit_terms(odds, inv_mu, markup):
    """Profit mean_i M_i, the offers' summed shares, the gradient g_o and the Hessian H_oq in the markups
    (see the kernel: the upper triangle summed, the lower one its mirror)."""
    n, t = len(odds), len(markup)
    profit = 0.0
    shares = [0.0] * t
    grad = [0.0] * t
    hess = [[0.0] * t for _ in range(t)]
    for i in range(n):
        iv = inv_mu[i]
        zs = [odds[i][o] - markup[o] * iv for o in range(t)]
        top = max([0.0] + zs)
        terms = [math.exp(z - top) for z in zs]
        scale = 1.0 / _left_sum([math.exp(-top)] + terms)
        prob = [e * scale for e in terms]
        big_m = _left_sum(markup[o] * prob[o] for o in range(t))
        profit += big_m
        keep = [1.0 - (markup[o] - big_m) * iv for o in range(t)]
        for o in range(t):
            w = prob[o] * iv
            shares[o] += prob[o]
            grad[o] += prob[o] * keep[o]
            hess[o][o] += -w * (1.0 - prob[o]) * keep[o] + w * (prob[o] * keep[o] - 1.0)
            for q in range(o + 1, t):
                hess[o][q] += w * prob[q] * keep[o] + w * prob[q] * keep[q]
    for o in range(t):
        for q in range(o + 1, t):
            hess[q][o] = hess[o][q]
    return profit / n, shares, grad, hess


def _multi_offer_newton(odds, inv_mu, cost, markup, tol, max_iter, damping):
    """Newton with a Levenberg-Marquardt shift and backtracking on profit (see the kernel); updates
    ``markup`` and returns (iterations, summed shares at the final markups)."""
    n, t = len(odds), len(cost)
    profit, shares, grad, hess = _lab_profit_terms(odds, inv_mu, markup)
    stalled = 0
    for it in range(max_iter):
        active = [shares[o] >= 1e-12 * n for o in range(t)]
        floor = max([1e-300] + [1e-12 * abs(hess[o][o]) for o in range(t) if active[o]])
        shift = 0.0
        for _ in range(80):
            rhs = [grad[o] if active[o] else 0.0 for o in range(t)]
            system = [[(-hess[o][q] + (shift * max(abs(hess[o][o]), floor) if o == q else 0.0))
                       if (active[o] and active[q]) else (1.0 if o == q else 0.0) for q in range(t)]
                      for o in range(t)]
            step = _cholesky_solve(system, rhs)
            if step is not None:
                break
            shift = 4.0 * shift if shift > 0.0 else 1e-6
        if step is None:
            return -1, shares
        alpha = damping
        accepted = None
        for _ in range(60):
            trial = [markup[o] + alpha * step[o] for o in range(t)]
            if all(x > 0.0 for x in trial):
                result = _lab_profit_terms(odds, inv_mu, trial)
                finite = all(math.isfinite(x) for x in [result[0], *result[2], *(h for row in result[3] for h in row)])
                if finite and result[0] >= profit * (1.0 - 1e-15):
                    accepted = result
                    break
            alpha *= 0.5
        if accepted is None:
            return it + 1, shares
        converged = all(not active[o] or abs(trial[o] - markup[o]) <= tol * abs(cost[o] + trial[o])
                        for o in range(t))
        markup[:] = trial
        stalled = stalled + 1 if accepted[0] <= profit * (1.0 + 1e-13) else 0
        profit, shares, grad, hess = accepted
        if converged or stalled >= 8:
            return it + 1, shares
    return -1, shares
