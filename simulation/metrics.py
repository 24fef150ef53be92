"""Per-step measures of the market (docs/ODD.md §7.13), collected into columns.

Definitions (docs/outputs.md has every column with its unit):

* HHI and CR4 on lab revenue shares this step (0..1); null when no lab has revenue.
* frontier-capable usage: tasks served at deployed capability ``E >= log10(threshold_flop)``;
  ``regulated_share`` is the part served by regulated models (null when there is none).
* ``evading_labs``: labs serving some task type at ``E >= log10(threshold_flop)`` with a model
  that is not regulated.
* human level on task type tau: some lab's deployed model reaches ``P_tau >= h_tau`` at some k of
  the grid; its cost is the marginal cost at the smallest such k, minimised over labs.
"""

from __future__ import annotations

import numpy as np

from aimarket.simulation import laws
from aimarket.simulation.market import SELF_HOST
from aimarket.simulation.trends import trends_at

VARIANT_NAMES = ("full", "distilled")


def hhi(revenues: np.ndarray) -> float | None:
    """Herfindahl-Hirschman index of revenue shares, in [1/n, 1] (M1); None when total revenue is 0."""
    total = float(np.sum(revenues))
    if total <= 0:
        return None
    shares = np.asarray(revenues) / total
    return float(np.sum(shares**2))


def concentration_ratio(revenues: np.ndarray, top: int = 4) -> float | None:
    """Revenue share of the ``top`` largest labs (M1: ``cr4``); None when total revenue is 0."""
    total = float(np.sum(revenues))
    if total <= 0:
        return None
    return float(np.sum(np.sort(np.asarray(revenues))[::-1][:top]) / total)


def weighted_mean(values: np.ndarray, weights: np.ndarray) -> float | None:
    """``sum w x / sum w`` (the usage-weighted means of M3, M15); None when the weights sum to 0."""
    total = float(np.sum(weights))
    return float(np.sum(values * weights) / total) if total > 0 else None


def best_reachable(model, market) -> tuple[float | None, float | None, object, float | None]:
    """Human level on the market's task type (M6): the cheapest marginal cost per task at which any lab's
    deployed model (either variant, any k of the grid within the latency limit) reaches ``P >= h`` on the
    median task, with the lab and k; and the highest capability any lab can deploy [eOOM].
    Returns (cost or None, best capability or None, lab, k)."""
    task = market.task
    best_cost, best_lab, best_k, top = None, None, None, None
    for lab in model.labs:
        variants = lab.variants
        for variant in range(len(variants.eoom_pre)):
            reached = False
            for k in market.allowed_k(model.k_grid):
                eoom = market.deployed_eoom(variants.eoom_pre[variant], k)
                top = eoom if top is None else max(top, eoom)
                if not reached and laws.success_probability(eoom, task.difficulty, task.width) >= task.human_success:
                    reached = True  # the smallest such k is the cheapest for this variant
                    cost = market.unit_cost(variants.active_params[variant], k)
                    if best_cost is None or cost < best_cost:
                        best_cost, best_lab, best_k = cost, lab, float(k)
    return best_cost, top, best_lab, best_k


def human_level_share(market, eoom: float | None) -> float | None:
    """Share of the task type's users whose own task a system of capability ``eoom`` does at human level:
    ``P(E; d_i) >= h`` (M7)."""
    if eoom is None:
        return None
    task = market.task
    z = (eoom - market.users.difficulty) / task.width
    return float(np.mean(1.0 / (1.0 + np.exp(-np.clip(z, -700, 700))) >= task.human_success))


def fleet_copies(model, lab, k: float) -> float:
    """Copies of ``lab``'s deployed model that its training fleet serves at once at multiplier ``k``
    (M8, L13). The fleet is the cluster that trained the model over ``labs.training_steps`` steps; serving,
    it delivers its training FLOP/s times ``inference_utilisation / training_utilisation * precision``."""
    s = model.config
    c = s.compute
    seconds = s.labs.training_steps * s.time.step_years * laws.SECONDS_PER_YEAR
    fleet = laws.at_inference(lab.deployed.raw_flop / seconds, c.inference_utilisation, c.training_utilisation,
                              c.precision_factor)
    return laws.served_copies(fleet, lab.deployed.active_params, k, c.copy_tokens_per_second)


def tier_price_ratio(market, quantity: np.ndarray) -> float | None:
    """Usage-weighted over labs with two or more offers: price of the lab's most capable offer over its
    cheapest (M15). None when no lab sells two tiers."""
    ratios, weights = [], []
    for lab in np.unique(market.owner[market.owner >= 0]):
        rows = np.flatnonzero(market.owner == lab)
        if rows.size < 2:
            continue
        top = rows[np.argmax(market.eoom[rows])]
        cheapest = rows[np.argmin(market.price[rows])]
        ratios.append(market.price[top] / market.price[cheapest])
        weights.append(float(np.sum(quantity[rows])))
    return weighted_mean(np.array(ratios), np.array(weights)) if ratios else None


class Recorder:
    """Collects one timeseries row per step, one labs row per step x lab x task type x tier, and one
    decisions row per option weighed in a training or entry decision."""

    def __init__(self, model):
        self.timeseries: list[dict] = []
        self.labs: list[dict] = []
        self.decisions: list[dict] = []
        self.human_level: list[dict] = []  # per step: task -> {cost, lab, k, copies} or None
        self.start_capability: dict[str, float] = {}  # the frontier's deployed capability per task at step 0

    def decision(self, model, kind: str, lab, name: str, option: dict, chosen: bool) -> None:
        trained = option.get("model")
        self.decisions.append({
            "step": model.step_index, "decision": kind, "lab": -1 if lab is None else lab.lab_id, "name": name,
            "basis": option["basis"], "multiple": option["multiple"], "ida_multiple": option.get("ida_multiple", 0.0),
            "raw_flop": trained.raw_flop if trained is not None else option["raw_flop"],
            "ida_flop": option.get("ida_flop", 0.0),
            "eoom_pre": trained.eoom_pre if trained is not None else option["eoom_pre"],
            "present_value": option["present_value"], "cost": option["cost"], "compliance": option["compliance"],
            "value": option["value"], "affordable": option["affordable"], "chosen": chosen,
        })

    @staticmethod
    def non_finite(model, market):
        from aimarket.simulation.errors import SimulationError

        return SimulationError(f"step {model.step_index}, task '{market.task.name}': non-finite choice probabilities")

    def record(self, model, outcome: list[dict]) -> None:
        """Append the step's timeseries row (M1-M13, M15, M16 of docs/ODD.md §7.13), its human-level labs
        (M6) and its labs rows."""
        present = model.labs + model.exited_this_step
        revenues = np.array([lab.ledger.revenue for lab in present])
        row: dict = {
            "step": model.step_index, "year": model.trends.year, "n_labs": len(model.labs),
            "arrivals": model.arrivals, "entries": model.entries, "exits": model.exits,
            "entry_best_rejected_value": model.best_rejected_entry,
            "hhi": hhi(revenues), "cr4": concentration_ratio(revenues), "br_rounds": model.br_rounds,
            "nash_residual": model.nash_residual,
        }
        by_id = {lab.lab_id: lab for lab in present}
        usage = _StepUsage(present)
        human_level = {}
        for index, market in enumerate(model.markets):
            quantity = outcome[index]["quantity"]
            self._market_columns(row, model, market, outcome[index])
            self._add_offer_usage(usage, model, by_id, market, quantity)
            human_level[market.task.name] = _human_level_columns(row, model, market)
        frontier = _frontier_columns(row, model)
        _spend_columns(row, present, outcome, usage)
        _open_and_regulation_columns(row, model, frontier, usage)
        _power_columns(row, model, usage)
        row["frontier_copies"] = _frontier_copies(model, frontier, usage)
        row["agi_reached"] = all(v is not None for v in human_level.values())
        self.timeseries.append(row)
        self.human_level.append(human_level)
        self._record_labs(model, present, outcome)

    def _market_columns(self, row: dict, model, market, outcome: dict) -> None:
        """The task type's frontier (M2), usage-weighted price and k (M3), tier price ratio and price at fixed
        capability (M15), outside and self-hosting shares."""
        task = market.task
        quantity = outcome["quantity"]
        sold = market.owner != SELF_HOST
        surviving = np.isin(market.owner, [lab.lab_id for lab in model.labs])
        frontier_eoom = float(np.max(market.eoom[surviving])) if np.any(surviving) else None
        row[f"frontier_eoom_{task.name}"] = frontier_eoom
        if model.step_index == 0 and frontier_eoom is not None:
            self.start_capability[task.name] = frontier_eoom
        row[f"price_{task.name}"] = weighted_mean(market.price[sold], quantity[sold])
        row[f"k_{task.name}"] = weighted_mean(market.k[sold], quantity[sold])
        row[f"tier_price_ratio_{task.name}"] = tier_price_ratio(market, quantity)
        reference = self.start_capability.get(task.name)
        capable = sold & (market.eoom >= reference - 1e-12) if reference is not None else np.zeros_like(sold)
        row[f"price_fixed_capability_{task.name}"] = (float(np.min(market.price[capable])) if np.any(capable)
                                                      else None)
        row[f"outside_share_{task.name}"] = outcome["outside_share"]
        row[f"selfhost_share_{task.name}"] = float(np.sum(quantity[~sold]) / market.tasks_per_step) \
            if market.tasks_per_step > 0 else None

    def _add_offer_usage(self, usage: _StepUsage, model, by_id, market, quantity: np.ndarray) -> None:
        """Add the market's offers to the step's totals: Lerner terms (M16), inference FLOP (M10),
        frontier-capable and regulated usage (M4), evading labs (M5) and each lab's k usage (M8)."""
        task = market.task
        line = model.regulator.frontier_line_eoom
        sold = market.owner != SELF_HOST
        revenue = market.price * quantity
        usage.lerner[0] += float(np.sum(revenue[sold] * (market.price[sold] - market.cost[sold])
                                        / market.price[sold]))
        usage.lerner[1] += float(np.sum(revenue[sold]))
        for o in range(market.owner.size):
            usage.inference_flop += quantity[o] * laws.flop_per_task(
                self._active_params(model, by_id, market.owner[o], market.variant[o]), task.tokens, market.k[o])
            if market.eoom[o] >= line and quantity[o] > 0:
                usage.frontier += quantity[o]
                regulated = self._regulated(model, by_id, market.owner[o])
                usage.regulated += quantity[o] if regulated else 0.0
                if not regulated and market.owner[o] != SELF_HOST:
                    usage.evading.add(int(market.owner[o]))
            if market.owner[o] != SELF_HOST:
                acc = usage.lab_k[int(market.owner[o])]  # token-weighted: how the fleet's compute splits
                acc[0] += quantity[o] * task.tokens * market.k[o]
                acc[1] += quantity[o] * task.tokens

    @staticmethod
    def _active_params(model, by_id, owner: int, variant: int) -> float:
        if owner == SELF_HOST:
            return model.best_open_model.active_params
        return by_id[int(owner)].variants.active_params[int(variant)]

    @staticmethod
    def _regulated(model, by_id, owner: int) -> bool:
        if owner == SELF_HOST:
            return model.best_open_model.regulated
        return by_id[int(owner)].deployed.regulated

    def _record_labs(self, model, present, outcome) -> None:
        exited = {lab.lab_id for lab in model.exited_this_step}
        for lab in present:
            g = lab.ledger
            base = {
                "step": model.step_index, "lab": lab.lab_id, "name": lab.name, "alive": lab.lab_id not in exited,
                "cash": lab.cash, "training_flop": lab.deployed.raw_flop, "eoom_pre": lab.deployed.eoom_pre,
                "open_weights": lab.open_weights, "regulated": lab.deployed.regulated,
                "model_name": lab.deployed.name, "training": lab.training is not None,
                "lab_revenue": g.revenue, "lab_inference_cost": g.inference_cost, "lab_opex": g.opex,
                "lab_training_spend": g.training, "lab_compliance": g.compliance, "lab_financing": g.financing,
                "lab_entry_cost": g.entry_cost, "lab_profit": g.profit,
            }
            for index, market in enumerate(model.markets):
                rows = np.flatnonzero(market.owner == lab.lab_id)
                quantity = outcome[index]["quantity"]
                share = outcome[index]["share"]
                for tier, o in enumerate(rows):
                    self.labs.append({
                        **base, "task": market.task.name, "tier": tier,
                        "variant": VARIANT_NAMES[int(market.variant[o])],
                        "k": float(market.k[o]), "eoom": float(market.eoom[o]), "price": float(market.price[o]),
                        "marginal_cost": float(market.cost[o]), "share": float(share[o]),
                        "quantity": float(quantity[o]), "revenue": float(market.price[o] * quantity[o]),
                        "profit": float((market.price[o] - market.cost[o]) * quantity[o]),
                        "brand": market.brand_of(lab.lab_id),
                    })


class _StepUsage:
    """Totals over every offer of a step, added in the order markets and offers are visited."""

    def __init__(self, present):
        self.frontier = 0.0  # frontier-capable usage (M4) [tasks]
        self.regulated = 0.0  # the part of it served by regulated models (M4) [tasks]
        self.evading: set[int] = set()  # labs serving frontier-capable usage with an unregulated model (M5)
        self.inference_flop = 0.0  # M10 [FLOP]
        self.lerner = [0.0, 0.0]  # numerator and denominator of the Lerner index (M16) [$]
        self.lab_k: dict[int, list[float]] = {lab.lab_id: [0.0, 0.0] for lab in present}  # sum k tokens, tokens


def _human_level_columns(row: dict, model, market) -> dict | None:
    """The task type's human-level cost (M6) and share (M7); returns its human-level lab, k and copies (M8)
    or None."""
    task = market.task
    cost, top, lab, k = best_reachable(model, market)
    row[f"human_level_cost_{task.name}"] = cost
    row[f"human_level_share_{task.name}"] = human_level_share(market, top)
    return None if cost is None else {"cost": cost, "lab": lab.name, "k": k, "copies": fleet_copies(model, lab, k)}


def _frontier_columns(row: dict, model):
    """``frontier_eoom`` and ``frontier_training_flop`` over surviving labs (M2); returns the frontier lab."""
    alive = model.labs
    frontier = max(alive, key=lambda lab: lab.deployed.eoom_pre, default=None)
    row["frontier_eoom"] = frontier.deployed.eoom_pre if frontier is not None else None
    row["frontier_training_flop"] = max((lab.deployed.raw_flop for lab in alive), default=None)
    return frontier


def _spend_columns(row: dict, present, outcome: list[dict], usage: _StepUsage) -> None:
    """Revenue, the Lerner index (M16), spend (M11), consumer surplus (M13) and profit of the step."""
    ledgers = [lab.ledger for lab in present]
    row["revenue"] = sum(g.revenue for g in ledgers)
    row["lerner"] = usage.lerner[0] / usage.lerner[1] if usage.lerner[1] > 0 else None
    row["training_spend"] = sum(g.training for g in ledgers)
    row["inference_spend"] = sum(g.inference_cost for g in ledgers)
    compute_spend = row["training_spend"] + row["inference_spend"]
    row["inference_share"] = row["inference_spend"] / compute_spend if compute_spend > 0 else None
    row["consumer_surplus"] = sum(o["consumer_surplus"] for o in outcome)
    row["consumer_surplus_with_brand"] = sum(o["consumer_surplus_with_brand"] for o in outcome)
    row["profit"] = sum(g.profit for g in ledgers)


def _open_and_regulation_columns(row: dict, model, frontier, usage: _StepUsage) -> None:
    """The open gap (M12), the regulated share (M4) and the evading labs (M5), which the regulator notes."""
    best_open = model.best_open_model
    has_gap = best_open is not None and frontier is not None
    row["open_gap_eoom"] = row["frontier_eoom"] - best_open.eoom_pre if has_gap else None
    row["open_gap_compute"] = row["frontier_training_flop"] / best_open.raw_flop if has_gap else None
    row["regulated_share"] = usage.regulated / usage.frontier if usage.frontier > 0 else None
    row["evading_labs"] = len(usage.evading)
    model.regulator.note_evasion(len(usage.evading))


def _power_columns(row: dict, model, usage: _StepUsage) -> None:
    """The largest site power of a training run in progress (M9, L11) and the inference energy (M10, L12)."""
    s = model.config
    training_runs = [lab.training.model for lab in model.labs if lab.training is not None
                     and lab.training.release_step is None]
    duration = s.labs.training_steps * s.time.step_years
    row["max_site_power_mw"] = max(  # at the energy efficiency of the step the run started
        (laws.site_power_mw(run.raw_flop, duration, trends_at(s, run.step_started).flop_per_joule)
         for run in training_runs), default=0.0)
    row["inference_energy_mwh"] = laws.inference_energy_mwh(usage.inference_flop, model.trends.inference_flop_per_joule)


def _frontier_copies(model, frontier, usage: _StepUsage) -> float | None:
    """Copies of the frontier lab's model its training fleet serves at the lab's token-weighted mean k (M8)."""
    if frontier is None:
        return None
    used_k, used = usage.lab_k[frontier.lab_id]
    k_bar = used_k / used if used > 0 else 1.0
    return fleet_copies(model, frontier, k_bar)
