"""Lab strategies: one object per behaviour, one method per decision (docs/ODD.md §7.7-§7.10).

A strategy answers two questions each time the model asks:

* ``choose_offers(lab, market, task_index, k_grid, search)``: which products (model variant and
  inference multiplier) to sell on a task type, at which prices (a :class:`aimarket.simulation.market.Candidate`),
  given rivals' current offers; with ``search`` false, only reprice the current products;
* ``choose_training(lab, options)``: which next model to train, among the affordable
  :class:`TrainingOption` s the model has projected (or None to keep the current model).

Add your own strategy without editing the package::

    from aimarket.agents.strategies import OptimiseStrategy, register_strategy

    class Cautious(OptimiseStrategy):
        def choose_training(self, lab, options):
            return None  # never trains

    register_strategy("cautious", Cautious)
    # then `strategy = "cautious"` in a roster entry, and run with aimarket.simulation.run.simulate(...)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from aimarket.simulation.errors import ScenarioError
from aimarket.simulation.market import FULL, Product


@dataclass(frozen=True)
class TrainingOption:
    """A candidate next model with its valuation (docs/ODD.md §7.8).

    basis: "keep" (the current model), "own" (a multiple of the lab's own model's compute) or "frontier"
    (a multiple of the frontier model's); multiple: that multiple (0 for keep); ida_multiple: IDA
    compute as a multiple of the new raw compute; raw_flop, ida_flop [FLOP]; eoom_pre [eOOM];
    present_value: discounted operating profit the model would earn over the horizon [$];
    cost: training plus IDA compute cost [$]; compliance: regulatory cost if it would be regulated [$].
    """

    basis: str
    multiple: float
    ida_multiple: float
    raw_flop: float
    ida_flop: float
    eoom_pre: float
    present_value: float
    cost: float
    compliance: float

    @property
    def keeps_current_model(self) -> bool:
        return self.basis == "keep"

    def value(self, training_cost_weight: float = 1.0) -> float:
        """Net present value [$]: present value of operating profit minus weighted training cost and compliance."""
        return self.present_value - training_cost_weight * self.cost - self.compliance


class LabStrategy:
    """Interface of a lab strategy. Subclass and override the two decisions. A strategy with
    ``plans_training`` false is never offered training options (they are not valued)."""

    name = "base"
    plans_training = True

    def choose_offers(self, lab, market, task_index: int, k_grid: np.ndarray, search: bool = True):
        raise NotImplementedError

    def choose_training(self, lab, options: list[TrainingOption]) -> TrainingOption | None:
        raise NotImplementedError

    def reprices_current_offers(self) -> bool:
        """True when ``choose_offers(..., search=False)`` of a lab with offers only re-solves the prices of
        its current products, warm-started from their current prices. The model then runs such rounds in
        one compiled call per task type (docs/ODD.md §7.6), with the same result, instead of asking
        ``choose_offers``. False here, so a strategy of your own is always asked."""
        return False

    def search_sets(self, lab, market, task_index: int, k_grid: np.ndarray) -> list | None:
        """The candidate product sets when ``choose_offers(..., search=True)`` only screens them and takes
        the most profitable (``market.best_response(..., screen=True)`` on the lab's price hints), each set
        with as many products as the lab has offers; the model then runs the round in one compiled call per
        task type, with the same result. None (here, and whenever the strategy decides otherwise) to be
        asked ``choose_offers``. Must not change the lab."""
        return None


class StaticStrategy(LabStrategy):
    """Validation strategy: fixed model, fixed k per task type (roster ``k``, default 1, within the
    latency limit), the full model only; only prices respond, as Bertrand best responses."""

    name = "static"
    plans_training = False

    def choose_offers(self, lab, market, task_index, k_grid, search=True):
        k = min(lab.fixed_k.get(market.task.name, 1.0), max(1.0, market.k_max))
        [candidate] = market.best_response(lab.lab_id, lab.variants, [((FULL, float(k)),)], lab.price_hint(task_index))
        return candidate

    def choose_training(self, lab, options):
        return None


@dataclass
class OptimiseStrategy(LabStrategy):
    """Profit-maximising lab (default).

    Offers: on each task type the ``labs.tiers`` products (model variant: full or distilled; k from the
    grid within the latency limit and ``[k_min, k_max]``) whose best-response prices give the highest
    profit this step. The whole product set is searched when the lab's model changes (for several
    tiers: every single product is screened, then every set of tiers among the ``tiers + 2`` best);
    otherwise only the neighbours of the current choice (one tier moved one grid step, or switched to
    the other variant), which finds the optimum when it moves gradually. With ``search`` false the
    current products are only repriced (the later best-response rounds of a step).
    Training: the affordable option with the highest net present value, the training cost weighted by
    ``training_cost_weight``.
    """

    training_cost_weight: float = 1.0
    k_min: float = 1.0
    k_max: float = float("inf")
    name: str = "optimise"

    def products(self, market, k_grid: np.ndarray) -> list[Product]:
        """Every (variant, k) this strategy may sell on ``market``: k on the grid within the latency limit and
        ``[k_min, k_max]`` (TaskMarket.allowed_products)."""
        return market.allowed_products(k_grid, self.k_min, self.k_max)

    def candidate_sets(self, lab, market, task_index: int, k_grid: np.ndarray) -> list[tuple[Product, ...]]:
        sets = self.neighbour_sets(lab, market, task_index, k_grid)
        if sets is not None:
            return sets
        lab.search_all.discard(task_index)
        products = self.products(market, k_grid)
        return self._full_search(lab, market, task_index, products, min(lab.model.config.labs.tiers, len(products)))

    def search_sets(self, lab, market, task_index, k_grid):
        if (type(self).choose_offers is not OptimiseStrategy.choose_offers
                or type(self).candidate_sets is not OptimiseStrategy.candidate_sets):
            return None
        return self.neighbour_sets(lab, market, task_index, k_grid)

    def neighbour_sets(self, lab, market, task_index: int, k_grid: np.ndarray) -> list[tuple[Product, ...]] | None:
        """The lab's current products and their neighbours (one tier moved one grid step, or switched to the
        other variant), or None when the whole product set is to be searched (a new model or offer count)."""
        products = self.products(market, k_grid)
        tiers = min(lab.model.config.labs.tiers, len(products))
        current = lab.offers.get(task_index)
        current = tuple(sorted(current.products)) if current is not None else None
        if (task_index in lab.search_all or current is None or len(current) != tiers
                or not set(current) <= set(products)):
            return None
        ks = sorted({k for _, k in products})
        sets = {current}
        for tier, (variant, k) in enumerate(current):
            j = ks.index(k)
            moves = [(variant, ks[j + step]) for step in (-1, 1) if 0 <= j + step < len(ks)]
            moves.append((1 - variant, k))
            for moved in moves:
                trial = tuple(sorted(current[:tier] + (moved,) + current[tier + 1:]))
                if moved in products and len(set(trial)) == tiers:
                    sets.add(trial)
        return sorted(sets)

    def _full_search(self, lab, market, task_index, products, tiers) -> list[tuple[Product, ...]]:
        singles = [(p,) for p in products]
        if tiers == 1:
            return singles
        screened = market.best_response(lab.lab_id, lab.variants, singles, lab.price_hint(task_index))
        ranked = [c.products[0] for c in sorted(screened, key=lambda c: -c.profit)][:tiers + 2]
        return [tuple(sorted(s)) for s in combinations(ranked, tiers)]

    def choose_offers(self, lab, market, task_index, k_grid, search=True):
        if search or task_index not in lab.offers:
            sets = self.candidate_sets(lab, market, task_index, k_grid)
            [best] = market.best_response(lab.lab_id, lab.variants, sets, lab.price_hint(task_index), screen=True)
            return best
        [best] = market.best_response(lab.lab_id, lab.variants, [lab.offers[task_index].products],
                                      lab.price_hint(task_index), warm=True)
        return best

    def reprices_current_offers(self) -> bool:
        """True unless a subclass decides its offers in a ``choose_offers`` of its own."""
        return type(self).choose_offers is OptimiseStrategy.choose_offers

    def choose_training(self, lab, options):
        if not options:
            return None
        best = max(options, key=lambda o: o.value(self.training_cost_weight))
        return None if best.keeps_current_model else best


def pretrain_heavy() -> OptimiseStrategy:
    """Biased toward pre-training: sees training as 4x cheaper and deploys at most k = 10."""
    return OptimiseStrategy(training_cost_weight=0.25, k_max=10.0, name="pretrain_heavy")


def inference_heavy() -> OptimiseStrategy:
    """Biased toward inference: sees training as 4x dearer and deploys at least k = 10."""
    return OptimiseStrategy(training_cost_weight=4.0, k_min=10.0, name="inference_heavy")


_REGISTRY: dict[str, Callable[[], LabStrategy]] = {
    "static": StaticStrategy,
    "optimise": OptimiseStrategy,
    "pretrain_heavy": pretrain_heavy,
    "inference_heavy": inference_heavy,
}


def register_strategy(name: str, factory: Callable[[], LabStrategy]) -> None:
    """Make ``factory`` available to roster entries as ``strategy = name``."""
    _REGISTRY[name] = factory


def available_strategies() -> list[str]:
    return sorted(_REGISTRY)


def make_strategy(name: str, lab_name: str) -> LabStrategy:
    """A fresh strategy object; unknown names are a scenario error naming the roster field."""
    try:
        return _REGISTRY[name]()
    except KeyError:
        raise ScenarioError(
            f"scenario field 'labs.roster.{lab_name}.strategy': unknown strategy '{name}' "
            f"(allowed: {', '.join(available_strategies())})"
        ) from None
