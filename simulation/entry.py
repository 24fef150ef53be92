"""Free entry against sunk costs (docs/ODD.md §7.10).

Each step ``Poisson(entry.arrivals * step_years)`` potential entrants arrive. Each weighs entering on
the best open-weight model (adaptation cost ``entry.adapt_cost``) or on a model of its own trained at
``entry.frontier_multiples`` of the frontier model's raw compute at today's prices, by the net present
value labs use for training (:mod:`aimarket.simulation.planning`, P1) with no installed base and no brand,
minus the discounted fixed opex, the option's cost, compliance and the sunk entry cost (N1):

    V = PV(operating profit) - PV(fixed opex) - option cost - compliance - entry.cost.

It enters on the best option when ``V > 0`` and the investors' cash ``entry.cash`` covers the outlay;
arrivals see the entrants before them. Every option of every arrival is a row of decisions.parquet.
"""

from __future__ import annotations

from aimarket.simulation import laws
from aimarket.simulation.planning import fixed_cost_present_value, outlook, present_value

PROSPECTIVE_ENTRANT = -2  # lab id used to value an entrant's options: it owns no offer and no user


def _options(model) -> list[dict]:
    s = model.config
    cfg = s.entry
    trends = model.trends
    view = outlook(model, PROSPECTIVE_ENTRANT, 0.0)
    fixed = fixed_cost_present_value(view, s.labs.opex)
    context = f"step {model.step_index}, entrant"
    options = []
    open_model = model.best_open_model
    candidates = []
    if open_model is not None:
        candidates.append(("open", 0.0, open_model.raw_flop, open_model.eoom_pre, cfg.adapt_cost,
                           open_model.active_fraction, open_model.name))
    frontier_raw = max((lab.deployed.raw_flop for lab in model.labs), default=None)
    if frontier_raw is not None:
        for multiple in cfg.frontier_multiples:
            if multiple <= 0:
                continue
            raw = frontier_raw * multiple
            eoom = laws.pretraining_eoom(raw, trends.algo_eff, s.capability.data_wall_raw_flop,
                                         s.capability.post_wall_returns)
            candidates.append(("frontier", multiple, raw, eoom, laws.training_cost(raw, trends.training_fpd),
                               cfg.active_fraction, None))
    for basis, multiple, raw, eoom, cost, active_fraction, built_on in candidates:
        trained = model.entrant_model(raw, eoom, cost, active_fraction, built_on)
        regulated = model.regulator.would_regulate(trained, trends.algo_eff)
        compliance = model.regulator.compliance_cost if regulated else 0.0
        pv = present_value(view, PROSPECTIVE_ENTRANT, trained.variants(s.labs.distill_ratio, s.labs.distill_penalty),
                           model.k_grid, context)
        value = pv - fixed - cost - compliance - cfg.cost
        options.append({"basis": basis, "multiple": multiple, "model": trained, "present_value": pv, "cost": cost,
                        "compliance": compliance, "value": value,
                        "affordable": cost + compliance + cfg.cost <= cfg.cash})
    return options


def consider_entry(model) -> None:
    """Arrivals of this step decide; entrants join with opening offers (their best responses follow)."""
    cfg = model.config.entry
    model.arrivals = int(model.rng.poisson(cfg.arrivals * model.config.time.step_years)) if cfg.arrivals > 0 else 0
    for arrival in range(model.arrivals):
        options = _options(model)
        feasible = [o for o in options if o["affordable"]]
        best = max(feasible, key=lambda o: o["value"], default=None)
        enters = best is not None and best["value"] > 0
        for option in options:
            model.recorder.decision(model, "entry", None, f"arrival-{arrival + 1}", option,
                                    chosen=enters and option is best)
        if not enters:
            values = [o["value"] for o in feasible]
            if values:
                best_rejected = max(values)
                model.best_rejected_entry = max(best_rejected, model.best_rejected_entry or -float("inf"))
            continue
        model.admit_entrant(best["model"], best["cost"], best["compliance"])
