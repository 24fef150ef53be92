"""A lab's products on one task type, each computed once for the market's life (docs/ODD.md §7.4, §7.7).

A best response weighs sets of products (model variant, inference multiplier k); the same products come
back round after round (the neighbours of the current choice) and in every projection of a training
option. A :class:`ProductTable` keeps, for one lab, deployed model and brand term on one
:class:`~aimarket.simulation.market.TaskMarket`, each product's capability (L5), marginal cost (L9) and
gross-utility column (D1) in one (users x products) array, so that a best response hands the kernel the
whole table and the column of each product of its sets, and computes only products it has not seen.
Every entry is computed on its own, so a column has the same bits whenever it is computed.
"""

from __future__ import annotations

import numpy as np

INITIAL_COLUMNS = 32  # the default grid has 2 variants x 13 multipliers; the table doubles when full


class ProductTable:
    """Capability [eOOM], marginal cost [$/task] and gross utility [$] of a lab's products on one market.

    ``gross`` is (users x capacity), its unused columns zero; ``eoom`` and ``cost`` (capacity,) likewise;
    ``columns(products)`` gives each product's column, computing the missing ones in one call.
    """

    def __init__(self, market, variants, brand: float):
        self.market = market
        self.variants = variants
        self.brand = brand
        self.index: dict[tuple[int, float], int] = {}
        self.products: list[tuple[int, float]] = []  # the product in each used column
        self.eoom = np.zeros(INITIAL_COLUMNS)
        self.cost = np.zeros(INITIAL_COLUMNS)
        self.gross = np.zeros((market.users.count, INITIAL_COLUMNS))

    def serves(self, variants, brand: float) -> bool:
        """Whether the table holds the products of this deployed model and brand term."""
        return self.brand == brand and self.variants == variants

    def columns(self, products) -> np.ndarray:
        """The column of each of ``products`` (a sequence of (variant, k)), adding those not yet in the table."""
        index = self.index
        missing = [p for p in dict.fromkeys(products) if p not in index]
        if missing:
            self._add(missing)
        return np.array([index[p] for p in products], dtype=np.int64)

    def _add(self, products: list) -> None:
        start = len(self.index)
        end = start + len(products)
        if end > self.cost.size:
            self._grow(max(end, 2 * self.cost.size))
        eoom, cost = self.market.product_terms(self.variants, products)
        self.eoom[start:end] = eoom
        self.cost[start:end] = cost
        self.gross[:, start:end] = self.market._gross(eoom, np.full(len(products), self.brand))
        for j, product in enumerate(products):
            self.index[product] = start + j
        self.products.extend(products)

    def _grow(self, capacity: int) -> None:
        used = len(self.index)
        gross = np.zeros((self.gross.shape[0], capacity))
        gross[:, :used] = self.gross[:, :used]
        self.gross = gross
        self.eoom = np.concatenate([self.eoom[:used], np.zeros(capacity - used)])
        self.cost = np.concatenate([self.cost[:used], np.zeros(capacity - used)])
