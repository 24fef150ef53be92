"""The Mesa model of the AI market (docs/ODD.md §3).

Step order (docs/ODD.md §3 "Process overview and scheduling"), each step ``t``:

1. Trends: FLOP per $, algorithmic efficiency, energy efficiency and demand at ``t`` (§7.1).
2. Training progress: labs pay this step's share of runs in progress; a finished run is judged by
   the regulator (compliance cost, release delay) and released when its delay is over (§7.8, §7.12).
3. Open weights: weights of open models whose lag has passed become available to self-host (§7.11).
4. Markets: one :class:`TaskMarket` per task type with every lab's offers repriced at this step's
   costs, capability and brand terms, and the self-hosting offer of the best open model.
5. Prices and inference: best-response rounds to the tolerance (§7.6, E1); at step 0 alternated with
   the brand inversion that makes the roster's shares the observed ones (E2).
6. Pre-training decisions, every ``labs.model_cycle`` steps, for labs not already training (§7.8).
7. Entry: potential entrants arrive and enter where it pays (§7.10); if any entered, step 5 again.
8. Demand: users' choice probabilities give shares and quantities; then each user draws its
   provider for the next step from them with the model's random generator (§7.4).
9. Accounts: revenue, inference cost, opex, training, compliance and financing are booked (§7.9).
10. Exit: labs with negative cash for ``labs.exit_after`` steps leave; their users are released.
11. Record the step's outputs (§7.13).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import mesa
import numpy as np

from aimarket.agents.lab import Lab, Ledger, TrainedModel
from aimarket.agents.regulator import Regulator
from aimarket.agents.strategies import make_strategy
from aimarket.agents.users import UserPopulation
from aimarket.simulation import laws
from aimarket.simulation.entry import consider_entry
from aimarket.simulation.equilibrium import best_response_rounds, solve_brand
from aimarket.simulation.kernels import sample_providers
from aimarket.simulation.market import FULL, SELF_HOST, TaskMarket, latency_limit
from aimarket.simulation.mesa_interop import after_record, model_scenario, model_seed, timeseries_collector
from aimarket.simulation.metrics import Recorder
from aimarket.simulation.planning import training_options
from aimarket.simulation.scenario.schema import Scenario
from aimarket.simulation.trends import algo_eff_at_year, trends_at

SHARE_TOLERANCE = 1e-10  # largest |log gap| between step-0 shares and the roster's observed shares
# (or labs.br_tolerance where it is larger)


class MarketModel(mesa.Model):
    """Labs, users and a regulator in an AI market where compute buys capability either in
    pre-training (a sunk cost that lifts every task) or in inference (a cost per task).

    Parameters: ``scenario``, a validated :class:`Scenario`, a TOML path, a nested dict or None (the
    packaged default); ``seed`` (or Mesa's integer ``rng``; default ``scenario.run.seed``); and dotted
    scenario overrides as keywords, ``users__count=5000``, or a dict, ``overrides={"users.count": 5000}``,
    validated as ``--set`` is (:mod:`aimarket.simulation.mesa_interop`). Every random draw comes from
    ``self.rng``, so a scenario and seed determine the run. The scenario is kept as ``self.config``
    (Mesa 3.5 reserves ``Model.scenario`` for its own scenario objects). ``self.datacollector`` is a
    ``mesa.DataCollector`` of the timeseries columns, collected each step from the Recorder's row, so
    ``mesa.batch_run(MarketModel, parameters={"users__count": [2000, 4000]}, max_steps=8)`` works.
    """

    def __init__(self, scenario: Scenario | str | Path | Mapping | None = None, *, seed: int | None = None,
                 rng: int | None = None, **overrides: Any):
        scenario = model_scenario(scenario, overrides)
        seed = model_seed(scenario, seed, rng)
        super().__init__(rng=seed)
        self.seed = seed
        self.config = scenario
        self.step_index = 0
        self.k_grid = np.asarray(scenario.labs.k_grid, dtype=np.float64)
        self.trends = trends_at(scenario, 0)
        self.users = UserPopulation(scenario, self.rng)
        self.regulator = Regulator(self)
        self.open_models: list[TrainedModel] = []   # weights released, available to self-host
        self.scheduled_weights: list[TrainedModel] = []  # open models whose weights are still to come
        self.markets: list[TaskMarket] = []
        self.entries = self.exits = self.arrivals = 0
        self.entrants = 0
        self.best_rejected_entry: float | None = None
        self.br_rounds = 0
        self.nash_residual = 0.0
        self.unconverged_steps: list[int] = []
        self.exited_this_step: list[Lab] = []
        self.exited_labs: list[Lab] = []
        self.pending: dict[int, Ledger] = {}
        self.recorder = Recorder(self)
        self.datacollector = timeseries_collector(self)  # Mesa's DataCollector, fed by the Recorder's rows
        self.running = scenario.run.steps > 0
        for entry in scenario.labs.roster:
            self._add_roster_lab(entry)
        self._draw_installed_base()

    # -- construction ------------------------------------------------------------------------------
    def _add_roster_lab(self, entry) -> Lab:
        s = self.config
        year = s.time.start_year if entry.trained_year is None else entry.trained_year
        eoom = laws.pretraining_eoom(entry.training_flop, algo_eff_at_year(s, year), s.capability.data_wall_raw_flop,
                                     s.capability.post_wall_returns)
        c = s.compute
        fpd_when_trained = laws.training_flop_per_dollar(year - s.time.start_year, c.flop_per_dollar,
                                                         c.hardware_growth)
        deployed = TrainedModel(f"{entry.name}-0", entry.name, entry.training_flop, 0.0, eoom,
                                laws.training_cost(entry.training_flop, fpd_when_trained), 0,
                                entry.open_weights, release_step=0, active_fraction=entry.active_fraction)
        if entry.open_weights:  # weights follow the model's release (at trained_year) by open.lag steps
            released = int(np.ceil((year - s.time.start_year) / s.time.step_years - 1e-9))
            deployed.weights_release_step = max(0, released + s.open.lag)
            self.scheduled_weights.append(deployed)
        lab = Lab(self, entry.name, make_strategy(entry.strategy, entry.name), entry.cash, deployed,
                  entry.open_weights, entry.k, entry.opex)
        # Models on the market at the start are judged at step 0: compliance is paid, no delay.
        deployed.regulated = self.regulator.would_regulate(deployed, algo_eff_at_year(s, year))
        self._ledger(lab).compliance += self.regulator.compliance_cost if deployed.regulated else 0.0
        return lab

    def observed_shares(self) -> list[dict[int, float]]:
        """Per task type, the roster's observed step-0 shares by lab id."""
        by_name = {lab.name: lab.lab_id for lab in self.labs}
        return [{by_name[e.name]: e.share[task] for e in self.config.labs.roster if task in e.share}
                for task in self.config.task_names]

    def _draw_installed_base(self) -> None:
        uniform = self.rng.random(self.users.value.size)
        for index, shares in enumerate(self.observed_shares()):
            lo, hi = int(self.users.bounds[index]), int(self.users.bounds[index + 1])
            ids = np.array(sorted(shares), dtype=np.int64)
            self.users.draw_installed_base(index, ids, np.array([shares[i] for i in ids]), uniform[lo:hi])

    def new_trained_model(self, lab: Lab, raw_flop: float, ida_flop: float, eoom_pre: float,
                          cost: float, built_on: str | None = None) -> TrainedModel:
        return TrainedModel(f"{lab.name}-{len(lab.models)}", lab.name, raw_flop, ida_flop, eoom_pre, cost,
                            self.step_index, lab.open_weights, built_on, active_fraction=lab.deployed.active_fraction)

    def entrant_model(self, raw_flop: float, eoom_pre: float, cost: float, active_fraction: float,
                      built_on: str | None) -> TrainedModel:
        """A prospective entrant's model (named when it enters)."""
        return TrainedModel("entrant", "entrant", raw_flop, 0.0, eoom_pre, cost, self.step_index, False, built_on,
                            release_step=self.step_index, active_fraction=active_fraction)

    def admit_entrant(self, trained: TrainedModel, cost: float, compliance: float) -> Lab:
        """A new lab with ``trained`` deployed, its sunk entry cost and model cost booked this step."""
        cfg = self.config.entry
        taken = {lab.name for lab in self.labs + self.exited_labs} | {e.name for e in self.config.labs.roster}
        self.entrants += 1
        name = f"Entrant-{self.entrants}"
        while name in taken:  # never the name of a roster lab
            self.entrants += 1
            name = f"Entrant-{self.entrants}"
        trained.name, trained.lab = f"{name}-0", name
        lab = Lab(self, name, make_strategy(cfg.strategy, name), cfg.cash, trained, False)
        trained.regulated = compliance > 0
        ledger = self._ledger(lab)
        ledger.entry_cost += cfg.cost
        ledger.training += cost
        ledger.compliance += compliance
        self.entries += 1
        for index, market in enumerate(self.markets):  # enter at k = 1; best responses follow
            offer = market.opening_offer(lab.variants, 1.0)
            market.replace_lab_offers(lab.lab_id, offer)
            lab.offers[index] = offer
        return lab

    @property
    def labs(self) -> list[Lab]:
        """Labs in the market, in order of id (the order in which they best-respond)."""
        return sorted(self.agents_by_type[Lab], key=lambda lab: lab.unique_id) if Lab in self.agents_by_type else []

    def _ledger(self, lab: Lab) -> Ledger:
        return self.pending.setdefault(lab.lab_id, Ledger())

    # -- the step ------------------------------------------------------------------------------------
    def step(self) -> None:
        self.trends = trends_at(self.config, self.step_index)
        self.entries = self.exits = self.arrivals = 0
        self.best_rejected_entry = None
        self.exited_this_step = []
        self._progress_training()
        self._release_open_weights()
        self._build_markets()
        self._equilibrium()
        if self.step_index % self.config.labs.model_cycle == 0:
            self._plan_training()
        consider_entry(self)
        if self.entries:
            self._equilibrium()
        outcome = self._users_choose()
        self._settle_accounts(outcome)
        self._exit_insolvent()
        self.recorder.record(self, outcome)
        after_record(self)  # the DataCollector collects the row just recorded; model.running
        self.pending = {}
        self.step_index += 1

    def _equilibrium(self) -> None:
        # the brand terms are solved at step 0 only (later, roster labs may have exited)
        observed = self.observed_shares() if self.step_index == 0 else []
        if any(observed):
            # shares can match only as closely as the prices are solved
            tolerance = max(SHARE_TOLERANCE, self.config.labs.br_tolerance)
            self.br_rounds, self.nash_residual = solve_brand(self, observed, tolerance)
            for lab in self.labs:
                lab.brand = {i: m.brand_of(lab.lab_id) for i, m in enumerate(self.markets)}
        else:
            self.br_rounds, self.nash_residual = best_response_rounds(self)
        # a step's verdict is that of its last equilibrium (the one after entry, if any): its prices are recorded
        converged = self.nash_residual <= self.config.labs.br_tolerance
        if not converged and self.step_index not in self.unconverged_steps:
            self.unconverged_steps.append(self.step_index)
        elif converged and self.step_index in self.unconverged_steps:
            self.unconverged_steps.remove(self.step_index)

    # 2. training progress, judgement and release
    def _progress_training(self) -> None:
        """Pay this step's instalment of each run; a run whose instalments were all paid by the last
        step is judged now and released now, or ``delay_steps`` later if regulated."""
        for lab in self.labs:
            run = lab.training
            if run is None:
                continue
            if run.steps_left > 0:
                self._ledger(lab).training += run.cost_per_step
                run.steps_left -= 1
                continue
            if run.release_step is None:
                # judged on A at training (as eoom_pre and the planning projection), not A at release
                trained_algo_eff = trends_at(self.config, run.model.step_started).algo_eff
                regulated = self.regulator.would_regulate(run.model, trained_algo_eff)
                run.model.regulated = regulated
                if regulated:
                    self._ledger(lab).compliance += self.regulator.compliance_cost
                run.release_step = self.step_index + (self.regulator.delay_steps if regulated else 0)
            if run.release_step == self.step_index:
                self._deploy(lab, run.model)

    def _deploy(self, lab: Lab, trained: TrainedModel) -> None:
        """Put a finished model on the market from this step (its products are searched afresh)."""
        trained.release_step = self.step_index
        if trained.open_weights:
            trained.weights_release_step = self.step_index + self.config.open.lag
            self.scheduled_weights.append(trained)
        lab.deployed = trained
        lab.training = None
        lab.offers.clear()

    # 3. open weights
    def _release_open_weights(self) -> None:
        due = [m for m in self.scheduled_weights if m.weights_release_step <= self.step_index]
        self.open_models.extend(due)
        self.scheduled_weights = [m for m in self.scheduled_weights if m not in due]

    @property
    def best_open_model(self) -> TrainedModel | None:
        return max(self.open_models, key=lambda m: m.eoom_pre, default=None)

    # 4. markets
    def brand_factor(self) -> float:
        """Depreciation of the step-0 brand terms: ``(1 - demand.brand_decay) ** years``."""
        return (1.0 - self.config.demand.brand_decay) ** self.trends.years

    def _build_markets(self) -> None:
        s = self.config
        previous, self.markets = self.markets, []
        decay = self.brand_factor()
        for index, task in enumerate(s.tasks):
            k_max = latency_limit(task, s.compute.copy_tokens_per_second)
            brand = {lab.lab_id: lab.brand.get(index, 0.0) * decay for lab in self.labs}
            market = TaskMarket(task, self.users.of_task(index), float(self.trends.tasks_per_step[index]),
                                self.trends.serving_fpd, s.labs.price_tolerance, s.labs.price_iterations, k_max,
                                brand, s.labs.opex_revenue_share)
            rows = []
            for lab in self.labs:  # offers repriced at this step's costs and the lab's deployed model
                current = lab.offers.get(index)
                if current is None:
                    current = market.opening_offer(lab.variants, min(lab.fixed_k.get(task.name, 1.0), max(1.0, k_max)))
                    lab.offers[index] = current
                    lab.search_all.add(index)
                eoom, cost = market.product_terms(lab.variants, current.products)
                rows += [(lab.lab_id, v, k, e, c, p) for (v, k), e, c, p in
                         zip(current.products, eoom, cost, current.price, strict=True)]
            self_host = self._self_host_offer(market)
            if self_host is not None:
                rows.append((SELF_HOST, FULL, *self_host))
            columns = list(zip(*rows, strict=True)) if rows else [[]] * 6
            market.set_offers(*columns)
            if index < len(previous):
                market.reuse_products(previous[index])
            self.markets.append(market)

    def _self_host_offer(self, market: TaskMarket) -> tuple[float, float, float, float] | None:
        """Self-hosting the best open model (full variant): the k that maximises the median user's surplus
        ``v_med P(E) - mc (1 + premium)`` at the median difficulty; price = marginal cost times (1 + premium)."""
        best = self.best_open_model
        if best is None:
            return None
        premium = 1.0 + self.config.users.selfhost_premium
        task = market.task
        options = []
        for k in market.allowed_k(self.k_grid):
            eoom = market.deployed_eoom(best.eoom_pre, k)
            price = market.unit_cost(best.active_params, k) * premium
            surplus = task.value * laws.success_probability(eoom, task.difficulty, task.width) - price
            options.append((surplus, float(k), eoom, price))
        _, k, eoom, price = max(options)
        return k, eoom, price, price

    # 6. pre-training decisions
    def _plan_training(self) -> None:
        labs_cfg = self.config.labs
        for lab in self.labs:
            if lab.training is not None or not lab.strategy.plans_training:
                continue
            options = training_options(self, lab)
            choice = lab.strategy.choose_training(lab, options)
            weight = getattr(lab.strategy, "training_cost_weight", 1.0)
            for option in options:
                self.recorder.decision(self, "training", lab, lab.name, {
                    "basis": option.basis, "multiple": option.multiple, "ida_multiple": option.ida_multiple,
                    "raw_flop": option.raw_flop, "ida_flop": option.ida_flop, "eoom_pre": option.eoom_pre,
                    "present_value": option.present_value, "cost": option.cost, "compliance": option.compliance,
                    "value": option.value(weight), "affordable": True},
                    chosen=option is choice or (choice is None and option.keeps_current_model))
            if choice is None:
                continue
            trained = self.new_trained_model(lab, choice.raw_flop, choice.ida_flop, choice.eoom_pre, choice.cost)
            lab.start_training(trained, labs_cfg.training_steps)
            self._ledger(lab).training += lab.training.cost_per_step  # first instalment: this step
            lab.training.steps_left -= 1

    # 8. demand
    def _users_choose(self) -> list[dict]:
        """Shares, quantities and consumer surplus per task type; then users draw next providers."""
        uniform = self.rng.random(self.users.value.size)
        outcome = []
        for index, market in enumerate(self.markets):
            prob, logsum = market.choice_probabilities()
            users = market.users
            if not (np.all(np.isfinite(prob)) and np.all(np.isfinite(logsum))):
                raise self.recorder.non_finite(self, market)
            share = prob[:, :-1].mean(axis=0)
            tasks_per_user = market.tasks_per_step / users.count
            brand_utility = (prob[:, :-1] * market.brand_vector()[None, :]).sum(axis=1) * users.mu
            surplus_with_brand = users.mu * logsum - users.outside
            outcome.append({
                "share": share,
                "quantity": share * market.tasks_per_step,
                "outside_share": float(prob[:, -1].mean()),
                "consumer_surplus_with_brand": float(np.sum(surplus_with_brand)) * tasks_per_user,
                "consumer_surplus": float(np.sum(surplus_with_brand - brand_utility)) * tasks_per_user,
            })
            lo, hi = int(self.users.bounds[index]), int(self.users.bounds[index + 1])
            users.provider[:] = sample_providers(prob, uniform[lo:hi], market.owner)
        return outcome

    # 9. accounts
    def _settle_accounts(self, outcome: list[dict]) -> None:
        s = self.config
        for lab in self.labs:
            ledger = self._ledger(lab)
            for index, market in enumerate(self.markets):
                rows = market.owner == lab.lab_id
                quantity = outcome[index]["quantity"][rows]
                ledger.revenue += float(np.sum(market.price[rows] * quantity))
                ledger.inference_cost += float(np.sum(market.cost[rows] * quantity))
            ledger.opex += lab.opex + s.labs.opex_revenue_share * ledger.revenue
            ledger.financing += s.labs.financing_multiple * ledger.revenue
            lab.deployed.inference_spend += ledger.inference_cost
            lab.deployed.served_steps += 1
            lab.settle(ledger)

    # 10. exit
    def _exit_insolvent(self) -> None:
        for lab in self.labs:
            if lab.negative_cash_steps >= self.config.labs.exit_after:
                self.exits += 1
                self.users.forget_provider(lab.lab_id)
                self.exited_this_step.append(lab)
                self.exited_labs.append(lab)
                lab.remove()
