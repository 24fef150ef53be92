"""Plain-Python twin of :mod:`aimarket.simulation.kernels.best_response` (§7.7)."""

from __future__ import annotations

from aimarket.simulation.reference.choice import _left_sum
from aimarket.simulation.reference.prices import _price_fixed_point


def best_response_sets(gross_all, mu, switching, is_provider, rival, cost, sets, init, tol=1e-12, max_iter=500,
                       warm=False, screen=False, screen_iterations=2, keep=1.0, tasks_per_step=1.0):
    """Screening and solving of a lab's candidate sets (aimarket.simulation.kernels.best_response)."""
    def solve(s, start, iterations, dampings, warm_start):
        gross = [[row[c] for c in sets[s]] for row in gross_all]
        priced = [cost[c] / keep for c in sets[s]]
        for damping in dampings:
            result = _price_fixed_point(gross, mu, switching, is_provider, rival, priced, start, tol, iterations,
                                        damping, warm_start)
            if result[2] != -1:
                break
        prices, shares, its = result
        profit = _left_sum((keep * p - cost[c]) * x for p, c, x in zip(prices, sets[s], shares, strict=True))
        return prices, shares, profit * tasks_per_step, its

    count = len(sets)
    if not screen or count == 1:
        return [solve(s, list(init[s]), max_iter, (1.0, 0.5, 0.25), warm) for s in range(count)], -1
    results = [solve(s, list(init[s]), screen_iterations, (1.0,), False) for s in range(count)]
    best = 0
    for s in range(count):
        if results[s][2] > results[best][2]:
            best = s
    if results[best][3] <= 0:
        results[best] = solve(best, list(results[best][0]), max_iter, (1.0, 0.5, 0.25), True)
    return results, best
