"""The market of one task type at one step: its users, the offers on it, and best responses.

A :class:`TaskMarket` is the per-market computation layer (in the spirit of PyBLP's per-market
objects): it owns views of the users of one task type and the current table of offers, and turns a
lab's candidate products (model variant and inference multiplier) into prices, shares and profits
with the kernels of :mod:`aimarket.simulation.kernels`. It holds no lab logic: strategies
(``aimarket.agents.strategies``) decide which candidates to evaluate (docs/ODD.md §7.4-§7.7).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from aimarket.simulation import kernels
from aimarket.simulation.kernels import choice, costs, denominators
from aimarket.simulation.kernels.choice import NO_OWNER
from aimarket.simulation.laws import inference_gain, latency_k_max, marginal_cost_per_task
from aimarket.simulation.product_table import ProductTables

SELF_HOST = -1  # owner id of the self-hosting offer (open weights run by the user)
FULL, DISTILLED = 0, 1  # model variants
SCREEN_ITERATIONS = 2  # price iterations used to rank candidate offers before solving the best one


@dataclass(frozen=True)
class Variants:
    """What a market needs of a lab's deployed model: per variant (full, distilled) its pre-training
    capability [eOOM] and its parameters active per token."""

    eoom_pre: tuple[float, ...]
    active_params: tuple[float, ...]


Product = tuple[int, float]  # (variant, inference multiplier k)


def latency_limit(task, tokens_per_second: float) -> float:
    """The largest k a user of ``task`` waits for (L9b); infinite when the task type sets no latency."""
    if task.latency_s is None:
        return math.inf
    return latency_k_max(task.latency_s, tokens_per_second, task.parallel_samples, task.tokens)


@dataclass(frozen=True)
class Candidate:
    """A lab's best response for one set of products on one task type.

    products: (variant, k) of each offer (tier); eoom: deployed capability [eOOM]; cost: marginal
    cost [$/task]; price [$/task]; share: mean choice probability over the task type's users;
    profit: operating profit per step [$]; iterations: of the price solve (-1: not converged).
    """

    products: tuple[Product, ...]
    eoom: np.ndarray
    cost: np.ndarray
    price: np.ndarray
    share: np.ndarray
    profit: float
    iterations: int

    @property
    def k(self) -> tuple[float, ...]:
        return tuple(k for _, k in self.products)

    @property
    def variant(self) -> tuple[int, ...]:
        return tuple(v for v, _ in self.products)


class TaskMarket:
    """Users of one task type and the offers on it at the current step.

    Offers are parallel arrays (owner, variant, k, eoom, cost, price, brand) with one row per offer,
    and ``gross`` (users x offers) holds each offer's gross utility ``v_i P_i(E_o) + mu_i xi_o`` (D1).
    ``brand`` maps a lab id to its brand term xi on this task type at this step [logit units].
    With a revenue share ``phi`` of opex (``labs.opex_revenue_share``) a lab keeps ``(1 - phi) p - c``
    per task, so it prices as if its marginal cost were ``c / (1 - phi)``; profits are net of it.
    Every user's log-sum over the table is kept and updated when a lab's offers are replaced
    (:mod:`aimarket.simulation.kernels.denominators`): recomputed exactly when the table or the brand terms are
    set and after every ``denominators.REFRESH_UPDATES`` replacements, so it depends only on the
    sequence of calls, not on anything else (same calls, same bits).
    """

    def __init__(self, task, users, tasks_per_step: float, inference_fpd: float, price_tolerance: float,
                 price_iterations: int, k_max: float, brand: dict[int, float] | None = None,
                 revenue_share_cost: float = 0.0):
        self.task = task
        self.users = users  # aimarket.agents.users.TaskUsers
        self.tasks_per_step = tasks_per_step
        self.inference_fpd = inference_fpd
        self.price_tolerance = price_tolerance
        self.price_iterations = price_iterations
        self.k_max = k_max
        self.brand = dict(brand or {})
        self.revenue_share_cost = revenue_share_cost  # opex per $ of revenue, priced like a marginal cost
        self.owner = np.empty(0, dtype=np.int64)
        self.variant = np.empty(0, dtype=np.int64)
        self.k = np.empty(0)
        self.eoom = np.empty(0)
        self.cost = np.empty(0)
        self.price = np.empty(0)
        self.gross = np.empty((users.count, 0))
        self._products: ProductTables | None = None  # the labs' products priced here (product_table.py)
        self._slices: tuple[np.ndarray, dict[int, slice]] | None = None  # (owner array, lab id -> its columns)
        self._allowed: tuple[np.ndarray, np.ndarray] | None = None  # (k grid, its allowed part)
        self._allowed_products: dict[tuple[float, float], tuple[np.ndarray, list]] = {}  # (k_min, k_max) -> ...
        self._invalidate()

    def _invalidate(self) -> None:
        """Forget the kept log-sums (the table or the brand terms changed as a whole)."""
        self._logsum = None  # (n,) every user's log-sum over the table, or None
        self._updates = 0  # incremental updates since the last exact recomputation
        self._rival = None  # (lab id, its rivals' log-sums) for the current table

    # -- offers ------------------------------------------------------------------------------------
    def brand_of(self, owner: int) -> float:
        return self.brand.get(int(owner), 0.0)

    def _gross(self, eoom: np.ndarray, brand: np.ndarray) -> np.ndarray:
        """(n, len(eoom)) gross utilities (D1); the users' arrays were checked once, so only the offers'
        capability and brand are (finite), then the kernel is called without the public wrapper."""
        u = self.users
        eoom = np.ascontiguousarray(eoom, dtype=np.float64)
        brand = np.ascontiguousarray(brand, dtype=np.float64)
        if not (np.isfinite(eoom).all() and np.isfinite(brand).all()):
            raise ValueError(f"non-finite capability {eoom} or brand {brand}")
        return kernels.gross_utility(eoom, brand, u.value, u.mu, u.difficulty, float(self.task.width), validate=False)

    def reuse_products(self, previous: TaskMarket) -> None:
        """Take over the product tables of ``previous``, this task type's market at the last step, emptied."""
        if previous._products is not None:
            self._products = previous._products.reset(self)

    @property
    def products(self) -> ProductTables:
        """The labs' products priced on this market (:class:`~aimarket.simulation.product_table.ProductTables`)."""
        if self._products is None:
            self._products = ProductTables(self)
        return self._products

    def product_columns(self, lab_id: int, variants: Variants, products) -> np.ndarray:
        """The columns of ``products`` of ``lab_id`` with deployed model ``variants`` in :attr:`products`."""
        return self.products.columns(lab_id, variants, self.brand_of(lab_id), products)

    def _offer_gross(self, lab_id: int, candidate: Candidate) -> np.ndarray:
        """(n, t) gross utilities (D1) of ``candidate``'s offers: the lab's columns of :attr:`products` where
        they hold them at the candidate's capability and the lab's brand term (the same bits), else computed."""
        brand = self.brand_of(lab_id)
        cols = None if self._products is None else self._products.find(lab_id, candidate.products, candidate.eoom,
                                                                         brand)
        if cols is not None:
            return self._products.gross[:, cols]
        return self._gross(candidate.eoom, np.full(len(candidate.products), brand))

    def set_offers(self, owner, variant, k, eoom, cost, price) -> None:
        """Replace the whole offer table and recompute every offer's gross utility."""
        self.owner = np.asarray(owner, dtype=np.int64)
        self.variant = np.asarray(variant, dtype=np.int64)
        self.k = np.asarray(k, dtype=np.float64)
        self.eoom = np.asarray(eoom, dtype=np.float64)
        self.cost = np.asarray(cost, dtype=np.float64)
        self.price = np.asarray(price, dtype=np.float64)
        self.gross = self._gross(self.eoom, self.brand_vector())
        self._invalidate()

    def brand_vector(self) -> np.ndarray:
        return np.array([self.brand_of(o) for o in self.owner], dtype=np.float64)

    def set_brand(self, brand: dict[int, float]) -> None:
        """New brand terms (the step-0 contraction): the gross utilities follow."""
        self.brand = dict(brand)
        self.gross = self._gross(self.eoom, self.brand_vector())
        self._invalidate()

    def replace_lab_offers(self, lab_id: int, candidate: Candidate) -> None:
        """Swap ``lab_id``'s rows for the offers of ``candidate`` (only their gross utilities are computed).
        A lab that keeps its number of offers keeps its columns (the gross table is written in place);
        otherwise its offers move to the end of the table."""
        refresh = self._updates + 1 >= denominators.REFRESH_UPDATES  # then L is recomputed exactly, lazily
        rival = None if refresh else self.rival_log_sums(lab_id)  # before the table changes
        t = len(candidate.products)
        new_gross = self._offer_gross(lab_id, candidate)
        new = {"variant": np.array(candidate.variant, dtype=np.int64), "k": candidate.k, "eoom": candidate.eoom,
               "cost": candidate.cost, "price": candidate.price}
        own = np.flatnonzero(self.owner == lab_id)
        if own.size == t:
            self.gross[:, own] = new_gross
            for name, values in new.items():
                column = getattr(self, name).copy()  # new arrays: callers may hold the old ones
                column[own] = values
                setattr(self, name, column)
        else:
            keep = self.owner != lab_id
            new["owner"] = np.full(t, lab_id, dtype=np.int64)
            for name, values in new.items():
                setattr(self, name, np.concatenate([getattr(self, name)[keep], values]))
            self.gross = np.ascontiguousarray(np.concatenate([self.gross[:, keep], new_gross], axis=1))
        u = self.users
        self._rival = None
        if refresh:
            self._logsum, self._updates = None, 0
        else:
            self._logsum = denominators.add_offers(rival, np.ascontiguousarray(new_gross), u.mu, u.switching,
                                                   u.provider == lab_id, np.asarray(candidate.price, dtype=np.float64),
                                                   validate=False)
            self._updates += 1

    def log_sums(self) -> np.ndarray:
        """Every user's log-sum over the whole table (outside option included), kept between calls."""
        if self._logsum is None:
            u = self.users
            self._logsum = kernels.rival_log_sums(self.gross, u.mu, u.switching, u.provider, u.outside, self.price,
                                                  self.owner, NO_OWNER, validate=False)
        return self._logsum

    def rival_log_sums(self, lab_id: int) -> np.ndarray:
        """Every user's log-sum without ``lab_id``'s offers (docs/ODD.md §7.6), in O(users x its offers)."""
        if self._rival is None or self._rival[0] != lab_id:
            u = self.users
            rival = denominators.remove_lab(self.gross, u.mu, u.switching, u.provider, u.outside, self.price,
                                            self.owner, lab_id, self.log_sums(), validate=False)
            self._rival = (lab_id, rival)
        return self._rival[1]

    def offers_of(self, lab_id: int) -> np.ndarray:
        return np.flatnonzero(self.owner == lab_id)

    def offer_slice(self, lab_id: int) -> slice:
        """The columns of ``lab_id``'s offers in the table: they are always next to each other (the table is
        built lab by lab, and a lab's new offers take its old columns or move to the end together)."""
        if self._slices is None or self._slices[0] is not self.owner:  # the owners changed: find the runs anew
            runs: dict[int, slice] = {}
            owners = self.owner.tolist()
            for o, owner in enumerate(owners):
                if owner not in runs:
                    runs[owner] = slice(o, o + 1)
                elif runs[owner].stop == o:
                    runs[owner] = slice(runs[owner].start, o + 1)
                else:
                    raise ValueError(f"lab {owner}'s offers are not next to each other in the table")
            self._slices = (self.owner, runs)
        return self._slices[1].get(int(lab_id), slice(0, 0))

    # -- laws on this task type ------------------------------------------------------------------------
    def allowed_k(self, k_grid: np.ndarray) -> np.ndarray:
        """The k grid cut at the latency limit k_max (L9b); k = 1 is always allowed (kept per grid)."""
        if self._allowed is None or self._allowed[0] is not k_grid:
            allowed = k_grid[k_grid <= self.k_max * (1.0 + 1e-12)]
            self._allowed = (k_grid, allowed if allowed.size else k_grid[:1])
        return self._allowed[1]

    def allowed_products(self, k_grid: np.ndarray, k_min: float = 1.0, k_max: float = math.inf) -> list[Product]:
        """Every (variant, k) with k in :meth:`allowed_k` and in ``[k_min, k_max]`` (else the allowed k nearest
        that range), full model first (kept per grid and range; do not change the list)."""
        key = (k_min, k_max)
        if self._allowed_products.get(key, (None,))[0] is not k_grid:
            allowed = self.allowed_k(k_grid)
            ks = [float(k) for k in allowed if k_min <= k <= k_max] or [float(allowed[-1 if k_min > 1 else 0])]
            self._allowed_products[key] = (k_grid, [(variant, k) for variant in (FULL, DISTILLED) for k in ks])
        return self._allowed_products[key][1]

    def deployed_eoom(self, eoom_pre: float, k: float) -> float:
        """E_tau = E_pre + G_tau(k) (L5)."""
        return eoom_pre + inference_gain(k, self.task.alpha, self.task.kappa)

    def unit_cost(self, active_params: float, k: float) -> float:
        """Marginal cost per task of a model with ``active_params`` at multiplier ``k`` (L9) [$/task]."""
        return marginal_cost_per_task(active_params, self.task.tokens, k, self.inference_fpd)

    def product_terms(self, variants: Variants, products) -> tuple[np.ndarray, np.ndarray]:
        """Capability [eOOM] (L5) and marginal cost [$/task] (L9) of each (variant, k) product."""
        task = self.task
        return costs.product_terms(variants.eoom_pre, variants.active_params, [v for v, _ in products],
                                   [k for _, k in products], task.alpha, task.kappa, task.tokens, self.inference_fpd)

    def opening_offer(self, variants: Variants, k: float) -> Candidate:
        """An offer before any best response: the full model at multiplier ``k`` priced at marginal cost
        plus the users' mean logit scale (the markup of a small firm facing homogeneous users)."""
        products = ((FULL, float(k)),)
        eoom, cost = self.product_terms(variants, products)
        return Candidate(products, eoom, cost, cost + float(np.mean(self.users.mu)), np.zeros(1), 0.0, 0)

    # -- demand ------------------------------------------------------------------------------------
    def choice_probabilities(self) -> tuple[np.ndarray, np.ndarray]:
        """(n, offers + 1) choice probabilities, outside option last, and each user's log-sum."""
        u = self.users
        return kernels.choice_probabilities(self.gross, u.mu, u.switching, u.provider, u.outside, self.price,
                                            self.owner, validate=False)

    def lab_probabilities(self, lab_ids: list[int]) -> np.ndarray:
        """(n, len(lab_ids)) each user's choice probability of each lab's offers together (D2)."""
        u = self.users
        return choice.lab_probabilities(self.gross, u.mu, u.switching, u.provider, u.outside, self.price,
                                        self.owner, [self.offer_slice(lab) for lab in lab_ids])

    def best_response(self, lab_id: int, variants: Variants, product_sets, price_hint,
                      screen: bool = False, warm: bool = False) -> list[Candidate]:
        """Best-response prices and profits of ``lab_id`` for each candidate set of products.

        Rivals' offers are held fixed: their part of every user's logit denominator is obtained from the
        kept log-sums by removing the lab's own terms (:meth:`rival_log_sums`, O(users x the lab's offers))
        and each candidate then costs O(users x its offers) per price iteration.
        ``price_hint(product, cost)`` gives a warm start for the price of a product (None: none, so Newton
        starts from cost plus the users' mean logit scale).
        With ``screen``, candidates are ranked after ``SCREEN_ITERATIONS`` Newton steps (profit is
        flat at the optimum, so the ranking is that of the solved prices up to near-ties) and only
        the best is solved to tolerance, warm-started from its screened prices; the list then holds that
        one candidate. With ``warm``, several offers start Newton from the hinted prices (a repricing
        round, where they are the lab's last best response; docs/ODD.md §7.6). Screening and solving run
        in one compiled call (:func:`aimarket.simulation.kernels.best_response_sets`).
        """
        u = self.users
        rival = self.rival_log_sums(lab_id)
        is_provider = u.provider == lab_id
        t = len(product_sets[0])
        if any(len(products) != t for products in product_sets):
            raise ValueError("the candidate sets of one best response must have the same number of products")
        table = self.products
        sets = self.product_columns(lab_id, variants, [p for products in product_sets for p in products])
        sets = sets.reshape(len(product_sets), t)
        if price_hint is None:
            init = np.zeros(sets.shape)
        else:
            init = np.array([[price_hint(p, table.cost[c]) for p, c in zip(products, cols, strict=True)]
                             for products, cols in zip(product_sets, sets, strict=True)])
        prices, shares, profits, iterations, chosen = kernels.best_response_sets(
            table.gross, u.mu, u.switching, is_provider, rival, table.cost, sets, init, tol=self.price_tolerance,
            max_iter=self.price_iterations, warm=warm, screen=screen, screen_iterations=SCREEN_ITERATIONS,
            keep=1.0 - self.revenue_share_cost, tasks_per_step=self.tasks_per_step, validate=False)

        def candidate(s: int) -> Candidate:
            cols = sets[s]
            return Candidate(tuple(product_sets[s]), table.eoom[cols], table.cost[cols], prices[s], shares[s],
                             float(profits[s]), int(iterations[s]))

        if chosen >= 0:
            return [candidate(chosen)]
        return [candidate(s) for s in range(len(product_sets))]

    def best_of_models(self, lab_id: int, models: list[Variants], products) -> tuple[np.ndarray, np.ndarray]:
        """For each deployed model in ``models``, the profit [$ per step] and Newton iterations (-1: not
        converged) of ``lab_id``'s best single offer among ``products`` (screened and the best solved, as
        :meth:`best_response` with ``screen`` and no price hint), all in one compiled call: the projections of
        a training decision (docs/ODD.md §7.8) value every model on the same market. ``lab_id``'s own offers,
        if any, are left out as rivals."""
        u = self.users
        count = len(products)
        first = np.cumsum([0] + [len(m.eoom_pre) for m in models])[:-1]  # each model's first variant
        variant = np.array([v for v, _ in products], dtype=np.int64)
        eoom, cost = costs.product_terms(
            np.concatenate([m.eoom_pre for m in models]), np.concatenate([m.active_params for m in models]),
            (first[:, None] + variant).ravel(), np.tile([k for _, k in products], len(models)),
            self.task.alpha, self.task.kappa, self.task.tokens, self.inference_fpd)
        gross = self._gross(eoom, np.full(eoom.size, self.brand_of(lab_id)))
        sets = np.arange(eoom.size, dtype=np.int64).reshape(-1, 1)
        _, _, profits, iterations, chosen = kernels.screened_groups(
            gross, u.mu, u.switching, u.provider == lab_id, self.rival_log_sums(lab_id), cost, sets,
            np.zeros(sets.shape), np.arange(0, eoom.size + 1, count), tol=self.price_tolerance,
            max_iter=self.price_iterations, screen_iterations=SCREEN_ITERATIONS, keep=1.0 - self.revenue_share_cost,
            tasks_per_step=self.tasks_per_step)
        best = np.arange(len(models)) * count + chosen
        return profits[best], iterations[best]

    def kept_log_sums(self) -> tuple[np.ndarray, np.ndarray]:
        """A copy of the kept log-sums (or room for them) and the compiled rounds' ``state`` (kept?, updates),
        for :mod:`aimarket.simulation.market_rounds`, which hands them back with :meth:`keep_log_sums`."""
        logsum = np.empty(self.users.count) if self._logsum is None else self._logsum.copy()
        return logsum, np.array([self._logsum is not None, self._updates], dtype=np.int64)

    def keep_log_sums(self, logsum: np.ndarray, state: np.ndarray) -> None:
        self._logsum = logsum if state[0] else None
        self._updates = int(state[1])
        self._rival = None

    # -- projections ----------------------------------------------------------------------------------
    def projected(self, lab_id: int, stride: int, years: float, rival_gain: float, demand_factor: float,
                  cost_factor: float, brand_factor: float) -> TaskMarket:
        """This market ``years`` ahead as a lab expects it (docs/ODD.md §7.8), on every ``stride``-th user:
        rivals' capability higher by ``rival_gain`` eOOM, demand times ``demand_factor``, every marginal
        cost times ``cost_factor`` (rivals keep their markups), brand terms times ``brand_factor``.
        ``lab_id``'s own offers are left out (a best response replaces them)."""
        keep = self.owner != lab_id
        future = TaskMarket(self.task, self.users.subsample(stride), self.tasks_per_step * demand_factor,
                            self.inference_fpd / cost_factor, self.price_tolerance, self.price_iterations, self.k_max,
                            {lab: xi * brand_factor for lab, xi in self.brand.items()}, self.revenue_share_cost)
        cost = self.cost[keep] * cost_factor
        future.set_offers(self.owner[keep], self.variant[keep], self.k[keep], self.eoom[keep] + rival_gain, cost,
                          self.price[keep] - self.cost[keep] + cost)
        return future
