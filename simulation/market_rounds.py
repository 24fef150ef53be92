"""A whole round of best responses on one market in one compiled call (docs/ODD.md §7.6 "Equilibrium", §7.7).

:func:`aimarket.simulation.equilibrium.best_response_rounds` lets every lab best-respond in turn; where the
labs' strategies let it (``LabStrategy.search_sets``, ``LabStrategy.reprices_current_offers``), a round on
a :class:`~aimarket.simulation.market.TaskMarket` runs here, in :mod:`aimarket.simulation.kernels.rounds`,
instead of one :meth:`~aimarket.simulation.market.TaskMarket.best_response` and one
:meth:`~aimarket.simulation.market.TaskMarket.replace_lab_offers` per lab: the same kernels in the same
order, so the same bits (tests/test_rounds.py), without returning to Python between labs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from aimarket.simulation.kernels import rounds
from aimarket.simulation.market import SCREEN_ITERATIONS, Candidate, TaskMarket, Variants

FAILED, NOT_FINITE, SOLVED = rounds.FAILED, rounds.NOT_FINITE, rounds.SOLVED


@dataclass(frozen=True)
class Round:
    """What a compiled round did: the labs' new offers (those before a failure, if any), the round's
    residual (the largest relative price change, infinite where a lab changed its products; E1), and the
    position of the first lab whose solve failed with its ``outcome`` (``FAILED``: no convergence;
    ``NOT_FINITE``: a non-finite price or share), or ``(-1, SOLVED)``. A lab that failed and those after it
    keep their offers."""

    candidates: list[Candidate]
    residual: float
    failed: int
    outcome: int


def reprice_round(market: TaskMarket, lab_ids: list[int], products: list[tuple]) -> Round:
    """Each lab of ``lab_ids`` in turn re-solves the prices of its current offers (``products``, one tuple per
    lab in the order of its offers in the table), warm-started from them, against the table as the labs
    before it left it (:meth:`TaskMarket.best_response` with ``warm``)."""
    u = market.users
    price = market.price.copy()  # new arrays: callers may hold the old ones
    share = np.zeros(price.size)
    profit, change = np.zeros(len(lab_ids)), np.zeros(len(lab_ids))
    iterations = np.zeros(len(lab_ids), dtype=np.int64)
    logsum, state = market.kept_log_sums()
    failed, outcome = rounds.reprice_round(
        market.gross, u.mu, u.switching, u.provider, u.outside, price, market.owner, market.cost,
        1.0 - market.revenue_share_cost, market.tasks_per_step, lab_ids, logsum, state, market.price_tolerance,
        market.price_iterations, share, profit, iterations, change, validate=False)
    market.price = price
    market.keep_log_sums(logsum, state)
    done = len(lab_ids) if failed < 0 else failed
    candidates = []
    for position in range(done):
        own = market.offer_slice(lab_ids[position])
        candidates.append(Candidate(products[position], market.eoom[own], market.cost[own], price[own], share[own],
                                    float(profit[position]), int(iterations[position])))
    return Round(candidates, float(change[:done].max(initial=0.0)), failed, outcome)


def search_round(market: TaskMarket, lab_ids: list[int], variants: list[Variants], product_sets: list[list],
                 hints: list) -> Round:
    """Each lab of ``lab_ids`` in turn screens its ``product_sets`` (every set with as many products as the
    lab has offers here), priced from its ``hints`` as :meth:`TaskMarket.best_response` with ``screen``, and
    the most profitable becomes its offers before the next lab moves."""
    t = len(product_sets[0][0])
    if (any(len(p) != t for sets in product_sets for p in sets)
            or any(_count(market.offer_slice(lab_id)) != t for lab_id in lab_ids)):
        raise ValueError("every candidate set of a search round must have as many products as its lab's offers")
    products, sets, init, start = _pack(market, lab_ids, variants, product_sets, hints)
    count = sets.shape[0]
    prices, shares = np.empty((count, t)), np.empty((count, t))
    profits, iterations = np.empty(count), np.empty(count, dtype=np.int64)
    chosen, change = np.zeros(len(lab_ids), dtype=np.int64), np.zeros(len(lab_ids))
    u = market.users
    table = (market.gross, u.mu, u.switching, u.provider, u.outside, market.price.copy(), market.owner,
             market.cost.copy(), market.eoom.copy(), market.variant.copy(), market.k.copy())
    logsum, state = market.kept_log_sums()
    failed, outcome = rounds.search_round(
        table, 1.0 - market.revenue_share_cost, market.tasks_per_step, lab_ids, start, sets, init, products, logsum,
        state, market.price_tolerance, market.price_iterations, SCREEN_ITERATIONS, prices, shares, profits,
        iterations, chosen, change)
    market.price = table[5]
    market.cost, market.eoom, market.variant, market.k = table[7:]
    market.keep_log_sums(logsum, state)
    done = len(lab_ids) if failed < 0 else failed
    candidates = []
    for position in range(done):
        s = start[position] + chosen[position]
        cols = sets[s]
        candidates.append(Candidate(tuple(product_sets[position][chosen[position]]), products[2][cols],
                                    products[1][cols], prices[s], shares[s], float(profits[s]), int(iterations[s])))
    return Round(candidates, float(change[:done].max(initial=0.0)), failed, outcome)


def _count(columns: slice) -> int:
    return columns.stop - columns.start


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
