"""AI labs (docs/ODD.md §7.7-§7.10): a Mesa agent holding its models, offers and accounts.

A :class:`Lab` holds state and books money; what it decides (inference multipliers and prices, the
next model) is delegated to its strategy object (:mod:`aimarket.agents.strategies`).
"""

from __future__ import annotations

from dataclasses import dataclass

import mesa
import numpy as np

from aimarket.simulation import laws
from aimarket.simulation.market import Variants


@dataclass
class TrainedModel:
    """One model: a training run's compute and what it buys (docs/ODD.md §7.2, §7.3).

    raw_flop: raw pre-training compute C_raw [FLOP]; ida_flop: inference compute spent generating
    training data [FLOP]; eoom_pre: pre-training capability incl. the IDA gain [eOOM];
    active_fraction: parameters active per token over compute-optimal parameters (L7b);
    training_cost: what the run cost [$]; built_on: name of the open model it was built on, if any.
    Lifetime accounting (``inference_spend``, ``served_steps``) accrues while it is deployed.
    """

    name: str
    lab: str
    raw_flop: float
    ida_flop: float
    eoom_pre: float
    training_cost: float
    step_started: int
    open_weights: bool
    built_on: str | None = None
    active_fraction: float = 1.0
    regulated: bool = False
    release_step: int | None = None
    weights_release_step: int | None = None
    inference_spend: float = 0.0
    served_steps: int = 0

    @property
    def active_params(self) -> float:
        """Parameters active per token of the full model (L7b)."""
        return laws.active_parameters(self.raw_flop, self.active_fraction)

    def variants(self, distill_ratio: float, distill_penalty: float) -> Variants:
        """The full model and its distilled variant as a market sees them (docs/ODD.md §7.3)."""
        return Variants((self.eoom_pre, self.eoom_pre - distill_penalty),
                        (self.active_params, self.active_params * distill_ratio))

    @property
    def counted_training_flop(self) -> float:
        """Training compute including IDA compute [FLOP] (used when the regulator counts it)."""
        return self.raw_flop + self.ida_flop

    @property
    def weights_value_share(self) -> float | None:
        """Value of the weights (training cost avoided) over lifetime inference spend; None if no spend."""
        return self.training_cost / self.inference_spend if self.inference_spend > 0 else None


@dataclass
class TrainingRun:
    """A model in training: its cost is paid in equal parts over ``steps_left`` steps."""

    model: TrainedModel
    cost_per_step: float
    steps_left: int
    release_step: int | None = None  # set when the finished run is judged


@dataclass
class Ledger:
    """One step of a lab's accounts [$]. ``profit`` excludes external financing."""

    revenue: float = 0.0
    inference_cost: float = 0.0
    opex: float = 0.0
    training: float = 0.0
    compliance: float = 0.0
    financing: float = 0.0
    entry_cost: float = 0.0

    @property
    def profit(self) -> float:
        return self.revenue - self.inference_cost - self.opex - self.training - self.compliance

    @property
    def cash_flow(self) -> float:
        return self.profit + self.financing - self.entry_cost


class Lab(mesa.Agent):
    """A frontier AI lab.

    State (docs/ODD.md §7.7-§7.10): cash [$]; the deployed model; a model in training (or None); per task type
    its current offers (one per tier: inference multiplier k and price); open-weights flag; the
    number of consecutive steps with negative cash.
    """

    def __init__(self, model: mesa.Model, name: str, strategy, cash: float, deployed: TrainedModel,
                 open_weights: bool, fixed_k: dict[str, float] | None = None, opex: float | None = None,
                 brand: dict[int, float] | None = None):
        super().__init__(model)
        self.name = name
        self.strategy = strategy
        self.cash = float(cash)
        self.deployed = deployed
        self.open_weights = open_weights
        self.fixed_k = dict(fixed_k or {})
        self.opex = model.config.labs.opex if opex is None else float(opex)  # fixed part, per step [$]
        self.brand = dict(brand or {})  # task index -> brand term xi at step 0 [logit units]
        self.training: TrainingRun | None = None
        self.offers: dict[int, object] = {}        # task index -> market.Candidate
        self.search_all: set[int] = set()  # task indices whose whole product set is searched next (new model)
        self.negative_cash_steps = 0
        self.ledger = Ledger()
        self.last_revenue = 0.0
        self.models: list[TrainedModel] = [deployed]
        self._variants: tuple[TrainedModel, Variants] | None = None  # (deployed model, its variants)

    @property
    def lab_id(self) -> int:
        return int(self.unique_id)

    @property
    def variants(self) -> Variants:
        """The deployed model's variants as the markets see them (kept while the deployed model is the same)."""
        if self._variants is None or self._variants[0] is not self.deployed:
            cfg = self.model.config.labs
            self._variants = (self.deployed, self.deployed.variants(cfg.distill_ratio, cfg.distill_penalty))
        return self._variants[1]

    def price_hint(self, task_index: int):
        """Warm start ``hint(product, cost)`` for the price of an offer: the current price of that
        product, else the cost plus the lab's current mean markup on the task type (0 without offers)."""
        current = self.offers.get(task_index)
        if current is None:
            return lambda product, cost: 0.0
        prices = dict(zip(current.products, current.price, strict=True))
        markup = float(np.add.reduce(current.price - current.cost)) / len(current.price)  # np.mean, in fewer steps
        return lambda product, cost: float(prices.get(product, cost + markup))

    def financing_capacity(self) -> float:
        """What the lab can spend on a training run: cash plus external financing available against
        its revenue (``financing_multiple`` times annual revenue) [$]."""
        cfg = self.model.config
        annual_revenue = self.last_revenue / cfg.time.step_years
        return max(0.0, self.cash) + cfg.labs.financing_multiple * annual_revenue

    def start_training(self, model: TrainedModel, training_steps: int) -> None:
        """Begin a run whose cost is paid in ``training_steps`` equal instalments."""
        self.training = TrainingRun(model, model.training_cost / training_steps, training_steps)
        self.models.append(model)

    def settle(self, ledger: Ledger) -> None:
        """Book one step's accounts: cash(t+1) = cash(t) + profit + financing - entry cost."""
        self.ledger = ledger
        self.cash += ledger.cash_flow
        self.last_revenue = ledger.revenue
        self.negative_cash_steps = self.negative_cash_steps + 1 if self.cash < 0 else 0
