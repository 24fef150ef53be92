"""A whole round of best responses on one market in one compiled call (docs/ODD.md §7.6 "Equilibrium", §7.7).

:func:`aimarket.simulation.equilibrium.best_response_rounds` lets every lab best-respond in turn; where the
labs' strategies let it (``LabStrategy.search_sets``, ``LabStrategy.reprices_current_offers``), a round on
a :class:`~aimarket.simulation.market.TaskMarket` runs here, in :mod:`aimarket.simulation.kernels.rounds`,
instead of one :meth:`~aimarket.simulation.market.TaskMarket.best_response` and one
:meth:`~aimarket.simulation.market.TaskMarket.replace_lab_offers` per lab: the same kernels in the same
order, so the same bits (tests/test_rounds.py), without returning to Python between labs.
"""

from __future__ import annotations

import numpy as np

from aimarket.simulation.kernels import rounds
from aimarket.simulation.market import SCREEN_ITERATIONS, Candidate, TaskMarket, Variants

FAILED, NOT_FINITE, SOLVED = rounds.FAILED, rounds.NOT_FINITE, rounds.SOLVED


def reprice_round(market: TaskMarket, lab_ids: list[int]) -> tuple[list[Candidate], int, int]:
    """Each lab of ``lab_ids`` in turn re-solves the prices of its current offers, warm-started from them,
    against the table as the labs before it left it (:meth:`TaskMarket.best_response` with ``warm``).
    Returns the labs' new :class:`Candidate` s and ``(position, outcome)`` of the first lab whose solve
    failed (``FAILED`` or ``NOT_FINITE``; it and the labs after it keep their offers), or ``(-1, SOLVED)``."""
    u = market.users
    price = market.price.copy()  # new arrays: callers may hold the old ones
    share = np.zeros(price.size)
    profit = np.zeros(len(lab_ids))
    iterations = np.zeros(len(lab_ids), dtype=np.int64)
    logsum, state = market.kept_log_sums()
    failed, outcome = rounds.reprice_round(
        market.gross, u.mu, u.switching, u.provider, u.outside, price, market.owner, market.cost,
        1.0 - market.revenue_share_cost, market.tasks_per_step, lab_ids, logsum, state, market.price_tolerance,
        market.price_iterations, share, profit, iterations, validate=False)
    market.price = price
    market.keep_log_sums(logsum, state)
    candidates = []
    for position, lab_id in enumerate(lab_ids[:len(lab_ids) if failed < 0 else failed]):
        own = np.flatnonzero(market.owner == lab_id)
        products = tuple((int(v), float(k)) for v, k in zip(market.variant[own], market.k[own], strict=True))
        candidates.append(Candidate(products, market.eoom[own], market.cost[own], price[own], share[own],
                                    float(profit[position]), int(iterations[position])))
    return candidates, failed, outcome


def search_round(market: TaskMarket, lab_ids: list[int], variants: list[Variants], product_sets: list[list],
                 hints: list) -> tuple[list[Candidate], int, int]:
    """Each lab of ``lab_ids`` in turn screens its ``product_sets`` (every set with as many products as the
    lab has offers here), priced from its ``hints`` as :meth:`TaskMarket.best_response` with ``screen``, and
    the most profitable becomes its offers before the next lab moves. Returns the labs' chosen
    :class:`Candidate` s and ``(position, outcome)`` as :func:`reprice_round`."""
    t = len(product_sets[0][0])
    for lab_id in lab_ids:
        if np.count_nonzero(market.owner == lab_id) != t or any(len(p) != t for sets in product_sets for p in sets):
            raise ValueError("every candidate set of a search round must have as many products as its lab's offers")
    products, sets, init, start = _pack(market, lab_ids, variants, product_sets, hints)
    count = sets.shape[0]
    prices, shares = np.empty((count, t)), np.empty((count, t))
    profits, iterations = np.empty(count), np.empty(count, dtype=np.int64)
    chosen = np.zeros(len(lab_ids), dtype=np.int64)
    u = market.users
    table = (market.gross, u.mu, u.switching, u.provider, u.outside, market.price.copy(), market.owner,
             market.cost.copy(), market.eoom.copy(), market.variant.copy(), market.k.copy())
    logsum, state = market.kept_log_sums()
    failed, outcome = rounds.search_round(
        table, 1.0 - market.revenue_share_cost, market.tasks_per_step, lab_ids, start, sets, init, products, logsum,
        state, market.price_tolerance, market.price_iterations, SCREEN_ITERATIONS, prices, shares, profits,
        iterations, chosen)
    market.price = table[5]
    market.cost, market.eoom, market.variant, market.k = table[7:]
    market.keep_log_sums(logsum, state)
    candidates = []
    for position in range(len(lab_ids) if failed < 0 else failed):
        s = start[position] + chosen[position]
        cols = sets[s]
        candidates.append(Candidate(tuple(product_sets[position][chosen[position]]), products[2][cols],
                                    products[1][cols], prices[s], shares[s], float(profits[s]), int(iterations[s])))
    return candidates, failed, outcome


def _pack(market, lab_ids, variants, product_sets, hints):
    """The labs' sets as rows of columns of ``market.products`` (S, t), the starting prices (S, t), each lab's
    first row (L + 1,) and the products' arrays ``(gross (n, P), cost, eoom, variant, k)``."""
    t = len(product_sets[0][0])
    table = market.products
    width = table.width
    columns = [market.product_columns(lab_id, lab_variants, [p for products in sets for p in products])
               for lab_id, lab_variants, sets in zip(lab_ids, variants, product_sets, strict=True)]
    if table.width != width:  # the table was widened on the way: the first labs' columns moved
        columns = [market.product_columns(lab_id, lab_variants, [p for products in sets for p in products])
                   for lab_id, lab_variants, sets in zip(lab_ids, variants, product_sets, strict=True)]
    rows, init, start = [], [], [0]
    for cols, sets, hint in zip(columns, product_sets, hints, strict=True):
        rows.append(cols.reshape(len(sets), t))
        init += [[hint(p, table.cost[c]) for p, c in zip(products, row, strict=True)]
                 for products, row in zip(sets, rows[-1], strict=True)]
        start.append(start[-1] + len(sets))
    products = (table.gross, table.cost, table.eoom, table.variant, table.k)
    return products, np.concatenate(rows), np.array(init, dtype=np.float64), np.array(start, dtype=np.int64)
