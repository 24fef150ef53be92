"""The Mesa model of the AI market (docs/ODD.md §2.3-§9).

Step order (docs/ODD.md §3 "Process overview and scheduling"), each step ``t``:

1. Trends: FLOP per $, algorithmic efficiency, energy efficiency and demand at ``t`` (§3).
2. Training progress: labs pay this step's share of runs in progress; a finished run is judged by
   the regulator (compliance cost, release delay) and released when its delay is over (§7, §8).
3. Open weights: weights of open models whose lag has passed become available to self-host (§7).
4. Markets: one :class:`TaskMarket` per task type with every lab's offers repriced at this step's
   costs and capability, and the self-hosting offer of the best open model.
5. Pre-training decisions, every ``labs.model_cycle`` steps, for labs not already training (§7).
6. Entry: with probability ``entry.rate`` a potential entrant considers entering (§7).
7. Prices and inference: ``labs.br_rounds`` rounds in which labs, in order of id, best-respond
   on every task type to rivals' current offers (Gauss-Seidel; converges to Bertrand-Nash prices).
8. Demand: users' choice probabilities give shares and quantities; then each user draws its
   provider for the next step from them with the model's random generator (§6).
9. Accounts: revenue, inference cost, opex, training, compliance and financing are booked (§7).
10. Exit: labs with negative cash for ``labs.exit_after`` steps leave; their users are released.
11. Record the step's outputs (§9).
"""

from __future__ import annotations

import mesa
import numpy as np

from agents.lab import Lab, Ledger, TrainedModel
from agents.regulator import Regulator
from agents.strategies import make_strategy
from agents.users import UserPopulation
from simulation import laws
from simulation.errors import SimulationError
from simulation.kernels import sample_providers
from simulation.market import SELF_HOST, Candidate, TaskMarket
from simulation.metrics import Recorder
from simulation.planning import projected_step_profit, training_options
from simulation.scenario import Scenario
from simulation.trends import algo_eff_at_year, trends_at

PROSPECTIVE_ENTRANT = -2  # lab id used to project an entrant's profit: it owns no offer and no user


class MarketModel(mesa.Model):
    """Labs, users and a regulator in an AI market where compute buys capability either in
    pre-training (a sunk cost that lifts every task) or in inference (a cost per task).

    Parameters: a validated :class:`Scenario` and an optional ``seed`` (default ``scenario.run.seed``).
    Every random draw comes from ``self.rng``, so a scenario and seed determine the run. The scenario
    is kept as ``self.config`` (Mesa 3.5 reserves ``Model.scenario`` for its own scenario objects).
    """

    def __init__(self, scenario: Scenario, seed: int | None = None):
        seed = scenario.run.seed if seed is None else int(seed)
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
        self.entries = 0
        self.exits = 0
        self.entrants = 0
        self.exited_this_step: list[Lab] = []
        self.exited_labs: list[Lab] = []
        self.pending: dict[int, Ledger] = {}
        for entry in scenario.labs.roster:
            self._add_roster_lab(entry)
        self.recorder = Recorder(self)

    # -- construction ------------------------------------------------------------------------------
    def _add_roster_lab(self, entry) -> Lab:
        s = self.config
        year = s.time.start_year if entry.trained_year is None else entry.trained_year
        eoom = laws.pretraining_eoom(entry.training_flop, algo_eff_at_year(s, year), s.capability.data_wall_eoom,
                                     s.capability.post_wall_returns)
        c = s.compute
        fpd_when_trained = laws.training_flop_per_dollar(year - s.time.start_year, c.flop_per_dollar,
                                                         c.hardware_growth)
        deployed = TrainedModel(f"{entry.name}-0", entry.name, entry.training_flop, 0.0, eoom,
                                laws.training_cost(entry.training_flop, fpd_when_trained), 0,
                                entry.open_weights, release_step=0,
                                weights_release_step=None)
        if entry.open_weights:  # weights follow the model's release (at trained_year) by open.lag steps
            released = int(np.ceil((year - s.time.start_year) / s.time.step_years - 1e-9))
            deployed.weights_release_step = max(0, released + s.open.lag)
        lab = Lab(self, entry.name, make_strategy(entry.strategy, entry.name), entry.cash, deployed,
                  entry.open_weights, entry.k)
        if entry.open_weights:
            self.scheduled_weights.append(deployed)
        # Models on the market at the start are judged at step 0: compliance is paid, no delay.
        deployed.regulated = self.regulator.would_regulate(deployed, algo_eff_at_year(s, year))
        self._ledger(lab).compliance += self.regulator.compliance_cost if deployed.regulated else 0.0
        return lab

    def new_trained_model(self, lab: Lab, raw_flop: float, ida_flop: float, eoom_pre: float,
                          cost: float, built_on: str | None = None) -> TrainedModel:
        return TrainedModel(f"{lab.name}-{len(lab.models)}", lab.name, raw_flop, ida_flop, eoom_pre, cost,
                            self.step_index, lab.open_weights, built_on)

    @property
    def labs(self) -> list[Lab]:
        """Labs in the market, in order of id (the order in which they best-respond)."""
        return sorted(self.agents_by_type[Lab], key=lambda lab: lab.unique_id) if Lab in self.agents_by_type else []

    def _ledger(self, lab: Lab) -> Ledger:
        return self.pending.setdefault(lab.lab_id, Ledger())

    # -- the step ------------------------------------------------------------------------------------
    def step(self) -> None:
        self.trends = trends_at(self.config, self.step_index)
        self.entries = self.exits = 0
        self.exited_this_step = []
        self._progress_training()
        self._release_open_weights()
        self._build_markets()
        if self.step_index % self.config.labs.model_cycle == 0:
            self._plan_training()
        self._consider_entry()
        self._best_respond()
        outcome = self._users_choose()
        self._settle_accounts(outcome)
        self._exit_insolvent()
        self.recorder.record(self, outcome)
        self.pending = {}
        self.step_index += 1

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
        """Put a finished model on the market from this step."""
        trained.release_step = self.step_index
        if trained.open_weights:
            trained.weights_release_step = self.step_index + self.config.open.lag
            self.scheduled_weights.append(trained)
        lab.deployed = trained
        lab.training = None
        lab.k_index.clear()  # a new model: search the whole k grid again

    # 3. open weights
    def _release_open_weights(self) -> None:
        due = [m for m in self.scheduled_weights if m.weights_release_step <= self.step_index]
        self.open_models.extend(due)
        self.scheduled_weights = [m for m in self.scheduled_weights if m not in due]

    @property
    def best_open_model(self) -> TrainedModel | None:
        return max(self.open_models, key=lambda m: m.eoom_pre, default=None)

    # 4. markets
    def _build_markets(self) -> None:
        s = self.config
        self.markets = []
        for index, task in enumerate(s.tasks):
            market = TaskMarket(task, self.users.of_task(index), float(self.trends.tasks_per_step[index]),
                                self.trends.inference_fpd, s.labs.price_tolerance, s.labs.price_iterations)
            owner, ks, eoom, cost, price = [], [], [], [], []
            for lab in self.labs:  # offers repriced at this step's costs and the lab's deployed model
                current = lab.offers.get(index) or market.opening_offer(
                    lab.deployed.raw_flop, lab.deployed.eoom_pre, lab.fixed_k.get(task.name, 1.0))
                for tier, k in enumerate(current.k):
                    owner.append(lab.lab_id)
                    ks.append(k)
                    eoom.append(market.deployed_eoom(lab.deployed.eoom_pre, k))
                    cost.append(market.unit_cost(lab.deployed.raw_flop, k))
                    price.append(current.price[tier])
            self_host = self._self_host_offer(market)
            if self_host is not None:
                owner.append(SELF_HOST)
                ks.append(self_host[0])
                eoom.append(self_host[1])
                cost.append(self_host[2])
                price.append(self_host[2])
            market.set_offers(owner, ks, eoom, cost, price)
            self.markets.append(market)

    def _self_host_offer(self, market: TaskMarket) -> tuple[float, float, float] | None:
        """Self-hosting the best open model: the k that maximises the median user's surplus
        ``v_med P(E) - mc (1 + premium)``; price = marginal cost times (1 + premium)."""
        best = self.best_open_model
        if best is None:
            return None
        premium = 1.0 + self.config.users.selfhost_premium
        median_value = market.task.value
        options = []
        for k in self.k_grid:
            eoom = market.deployed_eoom(best.eoom_pre, k)
            price = market.unit_cost(best.raw_flop, k) * premium
            options.append((median_value * market.success(eoom)[0] - price, float(k), eoom, price))
        _, k, eoom, price = max(options)
        return k, eoom, price

    # 5. pre-training decisions
    def _plan_training(self) -> None:
        labs_cfg = self.config.labs
        for lab in self.labs:
            if lab.training is not None:
                continue
            choice = lab.strategy.choose_training(lab, training_options(self, lab))
            if choice is None:
                continue
            trained = self.new_trained_model(lab, choice.raw_flop, choice.ida_flop, choice.eoom_pre, choice.cost)
            lab.start_training(trained, labs_cfg.training_steps)
            self._ledger(lab).training += lab.training.cost_per_step  # first instalment: this step
            lab.training.steps_left -= 1

    # 6. entry
    def _consider_entry(self) -> None:
        cfg = self.config.entry
        if cfg.rate <= 0 or self.rng.random() >= cfg.rate:
            return
        s = self.config
        cycle = s.labs.model_cycle
        options = []
        open_model = self.best_open_model
        if open_model is not None and cfg.cash >= cfg.cost:
            profit = projected_step_profit(self.markets, PROSPECTIVE_ENTRANT, open_model.raw_flop,
                                           open_model.eoom_pre, self.k_grid, context=f"step {self.step_index}, entrant")
            options.append((cycle * (profit - s.labs.opex), open_model.raw_flop, open_model.eoom_pre, 0.0,
                            open_model.name))
        raw = cfg.own_model_flop
        eoom = laws.pretraining_eoom(raw, self.trends.algo_eff, s.capability.data_wall_eoom,
                                     s.capability.post_wall_returns)
        cost = laws.training_cost(raw, self.trends.training_fpd)
        if cost <= cfg.cash - cfg.cost:
            profit = projected_step_profit(self.markets, PROSPECTIVE_ENTRANT, raw, eoom, self.k_grid,
                                           context=f"step {self.step_index}, entrant")
            options.append((cycle * (profit - s.labs.opex) - cost, raw, eoom, cost, None))
        if not options:
            return
        value, raw, eoom, cost, built_on = max(options, key=lambda o: o[0])
        if value <= cfg.cost:
            return
        self.entrants += 1
        name = f"Entrant-{self.entrants}"
        trained = TrainedModel(f"{name}-0", name, raw, 0.0, eoom, cost, self.step_index, False, built_on,
                               release_step=self.step_index)
        lab = Lab(self, name, make_strategy("optimise", name), cfg.cash, trained, False)
        trained.regulated = self.regulator.would_regulate(trained, self.trends.algo_eff)
        ledger = self._ledger(lab)
        ledger.entry_cost += cfg.cost
        ledger.training += cost
        ledger.compliance += self.regulator.compliance_cost if trained.regulated else 0.0
        self.entries += 1
        for index, market in enumerate(self.markets):  # enter at k = 1; best responses follow
            offer = market.opening_offer(raw, eoom, 1.0)
            market.replace_lab_offers(lab.lab_id, offer)
            lab.offers[index] = offer

    # 7. prices and inference
    def _best_respond(self) -> None:
        for _ in range(self.config.labs.br_rounds):
            for lab in self.labs:
                for index, market in enumerate(self.markets):
                    candidate = lab.strategy.choose_offers(lab, market, index, self.k_grid)
                    self._check_offer(lab, market, candidate)
                    market.replace_lab_offers(lab.lab_id, candidate)
                    lab.offers[index] = candidate

    def _check_offer(self, lab: Lab, market: TaskMarket, candidate: Candidate) -> None:
        where = f"step {self.step_index}, lab '{lab.name}', task '{market.task.name}'"
        if candidate.iterations < 0:
            raise SimulationError(f"{where}: the best-response price fixed point did not converge")
        if not (np.all(np.isfinite(candidate.price)) and np.all(np.isfinite(candidate.share))):
            raise SimulationError(f"{where}: non-finite price or share {candidate.price}, {candidate.share}")

    # 8. demand
    def _users_choose(self) -> list[dict]:
        """Shares, quantities and consumer surplus per task type; then users draw next providers."""
        uniform = self.rng.random(self.users.value.size)
        outcome = []
        for index, market in enumerate(self.markets):
            prob, logsum = market.choice_probabilities()
            users = market.users
            if not (np.all(np.isfinite(prob)) and np.all(np.isfinite(logsum))):
                raise SimulationError(f"step {self.step_index}, task '{market.task.name}': non-finite choice "
                                      "probabilities")
            share = prob[:, :-1].mean(axis=0)
            tasks_per_user = market.tasks_per_step / users.count
            outcome.append({
                "share": share,
                "quantity": share * market.tasks_per_step,
                "outside_share": float(prob[:, -1].mean()),
                "consumer_surplus": float(np.sum(users.mu * logsum)) * tasks_per_user,
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
            ledger.opex += s.labs.opex
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
