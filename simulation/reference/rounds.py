"""Plain-Python twin of :mod:`aimarket.simulation.kernels.rounds` (E1, §7.6)."""

from __future__ import annotations

from aimarket.simulation.reference.choice import _left_sum, rival_log_sums
from aimarket.simulation.reference.denominators import add_offers, remove_lab
from aimarket.simulation.reference.prices import best_response_prices

NO_OWNER = -2
REFRESH_UPDATES = 32  # as aimarket.simulation.kernels.denominators


def reprice_round(gross, mu, switching, provider, outside, price, owner, cost, keep, tasks_per_step, labs, logsum,
                  updates=0, tol=1e-12, max_iter=500):
    """Each lab of ``labs`` in turn re-solves its offers' prices, warm-started from them, against the rivals'
    log-sums taken from ``logsum`` (None: recomputed exactly first), and its prices enter the table.
    Returns ``(prices, shares, profits, iterations, failed)``: the table's prices and the repriced offers'
    mean shares (m,), each lab's profit and iterations, and the position of the first lab whose solve did not
    converge (-1 for none)."""
    price = list(price)
    shares = [0.0] * len(price)
    profits, iterations = [], []
    for position, lab in enumerate(labs):
        own = [o for o in range(len(price)) if owner[o] == lab]
        if logsum is None:
            logsum = rival_log_sums(gross, mu, switching, provider, outside, price, owner, NO_OWNER)
        rival = remove_lab(gross, mu, switching, provider, outside, price, owner, lab, logsum)
        is_provider = [p == lab for p in provider]
        own_gross = [[row[o] for o in own] for row in gross]
        new_price, new_share, its = best_response_prices(own_gross, mu, switching, is_provider, rival,
                                                         [cost[o] / keep for o in own], [price[o] for o in own],
                                                         tol, max_iter, warm=True)
        iterations.append(its)
        if its == -1:
            return price, shares, profits, iterations, position
        profits.append(tasks_per_step * _left_sum((keep * p - cost[o]) * s
                                                  for p, o, s in zip(new_price, own, new_share, strict=True)))
        for j, o in enumerate(own):
            price[o] = new_price[j]
            shares[o] = new_share[j]
        if updates + 1 >= REFRESH_UPDATES:
            logsum, updates = None, 0
        else:
            logsum = add_offers(rival, own_gross, mu, switching, is_provider, new_price)
            updates += 1
    return price, shares, profits, iterations, -1
