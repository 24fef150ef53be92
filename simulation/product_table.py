"""The labs' products on one task type, each computed once for the market's life (docs/ODD.md §7.4, §7.7).

A best response weighs sets of products (model variant, inference multiplier k); the same products come
back round after round (the neighbours of a lab's current choice). :class:`ProductTables` keeps, for every
lab on one :class:`~aimarket.simulation.market.TaskMarket`, each product's capability (L5), marginal cost
(L9) and gross-utility column (D1) for the lab's deployed model and brand term, in one (users x columns)
array in which each lab owns a block of columns. A best response, or a whole round of them, hands the kernels
that array and the column of each product of the sets, and only products not seen before are computed.
Every entry is computed on its own, so a column has the same bits whenever it is computed.
"""

from __future__ import annotations

import numpy as np

BLOCK_COLUMNS = 32  # columns per lab at first (the default grid has 2 variants x 13 multipliers); doubled when full


class _Block:
    """One lab's columns: its deployed model's ``variants``, its ``brand`` term, product -> column."""

    def __init__(self, start: int, variants, brand: float):
        self.start = start
        self.variants = variants
        self.brand = brand
        self.index: dict[tuple[int, float], int] = {}


class ProductTables:
    """Capability ``eoom`` [eOOM], marginal cost ``cost`` [$/task], ``variant``, ``k`` and gross utility
    ``gross`` [$] (users x columns, each column contiguous) of the labs' products on one market. Adding a
    product may move every block (a wider table, :attr:`width` changes): columns found before are then stale."""

    def __init__(self, market):
        self.market = market
        self.width = BLOCK_COLUMNS
        self.blocks: dict[int, _Block] = {}
        self._allocate(len(set(market.owner.tolist())) + 1)  # a block for every seller, and one to spare

    def reset(self, market) -> ProductTables:
        """These tables, emptied, for ``market`` (the same task type's users at the next step): the arrays are
        kept, so that their memory is not allocated and first touched again every step."""
        self.market = market
        self.blocks = {}
        if self.gross.shape[0] != market.users.count:
            self._allocate(len(set(market.owner.tolist())) + 1, keep=False)
        return self

    def columns(self, lab_id: int, variants, brand: float, products) -> np.ndarray:
        """The column of each of ``products`` ((variant, k) pairs) of ``lab_id`` with deployed model
        ``variants`` and brand term ``brand``, computing those not yet in its block (one kernel call)."""
        block = self.blocks.get(lab_id)
        if block is None:
            if (len(self.blocks) + 1) * self.width > self.cost.size:
                self._allocate(2 * len(self.blocks) + 1)
            block = self.blocks[lab_id] = _Block(len(self.blocks) * self.width, variants, brand)
        elif block.brand != brand or block.variants != variants:  # a new model or brand: the block starts anew
            block.variants, block.brand, block.index = variants, brand, {}
        index = block.index
        missing = [p for p in dict.fromkeys(products) if p not in index]
        if missing:
            self._add(block, missing)
        return np.array([index[p] for p in products], dtype=np.int64)

    def find(self, lab_id: int, products, eoom: np.ndarray, brand: float) -> np.ndarray | None:
        """The columns of ``lab_id``'s ``products`` where its block holds them at capability ``eoom`` and
        brand term ``brand``, else None."""
        block = self.blocks.get(lab_id)
        if block is None or block.brand != brand:
            return None
        cols = np.array([block.index.get(p, -1) for p in products], dtype=np.int64)
        if cols.min() < 0 or not np.array_equal(self.eoom[cols], eoom):
            return None
        return cols

    def _add(self, block: _Block, products: list) -> None:
        used = len(block.index)
        if used + len(products) > self.width:
            self._widen(max(2 * self.width, used + len(products)))
        first = block.start + used
        last = first + len(products)
        eoom, cost = self.market.product_terms(block.variants, products)
        self.eoom[first:last] = eoom
        self.cost[first:last] = cost
        self.variant[first:last] = [v for v, _ in products]
        self.k[first:last] = [k for _, k in products]
        self.gross[:, first:last] = self.market._gross(eoom, np.full(len(products), block.brand))
        for j, product in enumerate(products):
            block.index[product] = first + j

    def _allocate(self, blocks: int, keep: bool = True) -> None:
        """Zeroed room for ``blocks`` blocks, with what is there where ``keep``."""
        columns = max(blocks, 1) * self.width
        old = {name: getattr(self, name, None) for name in ("gross", "eoom", "cost", "variant", "k")}
        self.gross = np.zeros((self.market.users.count, columns), order="F")  # a block of columns is contiguous
        self.eoom, self.cost, self.k = np.zeros(columns), np.zeros(columns), np.zeros(columns)
        self.variant = np.zeros(columns, dtype=np.int64)
        if keep and old["gross"] is not None:
            self.gross[:, :old["gross"].shape[1]] = old["gross"]
            for name in ("eoom", "cost", "variant", "k"):
                getattr(self, name)[:old[name].size] = old[name]

    def _widen(self, width: int) -> None:
        """Blocks of ``width`` columns: every block moves to its new start with its columns."""
        old = {name: getattr(self, name) for name in ("gross", "eoom", "cost", "variant", "k")}
        old_width, self.width = self.width, width
        self._allocate(self.cost.size // old_width, keep=False)
        for block in self.blocks.values():
            start = block.start // old_width * width
            used = len(block.index)
            self.gross[:, start:start + used] = old["gross"][:, block.start:block.start + used]
            for name in ("eoom", "cost", "variant", "k"):
                getattr(self, name)[start:start + used] = old[name][block.start:block.start + used]
            block.index = {p: c - block.start + start for p, c in block.index.items()}
            block.start = start
