"""Lab strategies: one object per behaviour, one method per decision (docs/ODD.md §7.6-§7.11).

A strategy answers two questions each time the model asks:

* ``choose_offers(lab, market, task_index, k_grid)``: which inference multipliers to sell on a task
  type, at which prices (a :class:`simulation.market.Candidate`), given rivals' current offers;
* ``choose_training(lab, options)``: which next model to train, among the affordable
  :class:`TrainingOption` s the model has projected (or None to keep the current model).

Add your own strategy without editing the package::

    from agents.strategies import OptimiseStrategy, register_strategy

    class Cautious(OptimiseStrategy):
        def choose_training(self, lab, options):
            return None  # never trains

    register_strategy("cautious", Cautious)
    # then `strategy = "cautious"` in a roster entry, and run with simulation.run.simulate(...)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from simulation.errors import ScenarioError


@dataclass(frozen=True)
class TrainingOption:
    """A candidate next model with its projection (docs/ODD.md §7.6-§7.11 step 2).

    multiple: raw compute as a multiple of the current model's (0 = keep the current model);
    ida_multiple: IDA compute as a multiple of the new raw compute; eoom_pre [eOOM];
    projected_profit: per-step operating profit with this model, times the cycle length [$];
    cost: training plus IDA compute cost [$]; compliance: regulatory cost if it would be regulated [$].
    """

    multiple: float
    ida_multiple: float
    raw_flop: float
    ida_flop: float
    eoom_pre: float
    projected_profit: float
    cost: float
    compliance: float

    def value(self, training_cost_weight: float = 1.0) -> float:
        return self.projected_profit - training_cost_weight * self.cost - self.compliance


class LabStrategy:
    """Interface of a lab strategy. Subclass and override the two decisions."""

    name = "base"

    def choose_offers(self, lab, market, task_index: int, k_grid: np.ndarray):
        raise NotImplementedError

    def choose_training(self, lab, options: list[TrainingOption]) -> TrainingOption | None:
        raise NotImplementedError


class StaticStrategy(LabStrategy):
    """Validation strategy: fixed model, fixed k per task type (roster ``k``, default 1); only
    prices respond, as Bertrand best responses."""

    name = "static"

    def choose_offers(self, lab, market, task_index, k_grid):
        k = lab.fixed_k.get(market.task.name, 1.0)
        [candidate] = market.best_response(lab.lab_id, lab.deployed.raw_flop, lab.deployed.eoom_pre, [(k,)],
                                           lab.price_hint(task_index))
        return candidate

    def choose_training(self, lab, options):
        return None


@dataclass
class OptimiseStrategy(LabStrategy):
    """Profit-maximising lab (default).

    Offers: on each task type the set of ``tiers`` multipliers from the k grid (within
    ``[k_min, k_max]``) whose best-response prices give the highest profit this step. The whole grid
    is searched when the lab's model changes; otherwise only the neighbours of the current choice
    (one grid step up or down per tier), which finds the optimum when it moves gradually.
    Training: the affordable option with the highest projected profit minus
    ``training_cost_weight`` times its cost.
    """

    training_cost_weight: float = 1.0
    k_min: float = 1.0
    k_max: float = float("inf")
    name: str = "optimise"

    def allowed_indices(self, k_grid: np.ndarray) -> list[int]:
        allowed = [j for j, k in enumerate(k_grid) if self.k_min <= k <= self.k_max]
        return allowed or [0]

    def candidate_sets(self, lab, task_index: int, k_grid: np.ndarray) -> list[tuple[int, ...]]:
        allowed = self.allowed_indices(k_grid)
        tiers = min(lab.model.config.labs.tiers, len(allowed))
        current = lab.k_index.get(task_index)
        if current is None or len(current) != tiers:
            return list(combinations(allowed, tiers))
        sets = {current}
        for tier in range(tiers):
            for step in (-1, 1):
                moved = list(current)
                moved[tier] += step
                if moved[tier] in allowed and len(set(moved)) == tiers:
                    sets.add(tuple(sorted(moved)))
        return sorted(sets)

    def choose_offers(self, lab, market, task_index, k_grid):
        index_sets = self.candidate_sets(lab, task_index, k_grid)
        k_sets = [tuple(k_grid[j] for j in s) for s in index_sets]
        [best] = market.best_response(lab.lab_id, lab.deployed.raw_flop, lab.deployed.eoom_pre, k_sets,
                                      lab.price_hint(task_index), screen=True)
        lab.k_index[task_index] = index_sets[k_sets.index(best.k)]
        return best

    def choose_training(self, lab, options):
        if not options:
            return None
        best = max(options, key=lambda o: o.value(self.training_cost_weight))
        return None if best.multiple == 0 else best


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
