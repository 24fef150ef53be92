"""The run's headline numbers for ``summary.json`` (docs/outputs.md). Undefined values are None."""

from __future__ import annotations

from importlib import metadata

import numpy as np

from aimarket.simulation.scenario.schema import scenario_hash, scenario_to_dict


def package_version() -> str:
    try:
        return metadata.version("aimarket")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def _first(rows: list[dict], condition) -> dict | None:
    return next((row for row in rows if condition(row)), None)


def build_summary(model) -> dict:
    """Scenario, seed, version and the answers each run gives to the research questions."""
    s = model.config
    rows = model.recorder.timeseries
    human = model.recorder.human_level
    tasks = s.task_names
    steps_per_year = max(1, int(round(1.0 / s.time.step_years)))
    hhis = [r["hhi"] for r in rows[-steps_per_year:] if r["hhi"] is not None]
    agi = _first(list(zip(rows, human, strict=True)), lambda rh: rh[0]["agi_reached"])
    wages = {t.name: t.wage for t in s.tasks}

    def year_of(index):
        return None if index is None else rows[index]["year"]

    human_level_index = {t: next((i for i, h in enumerate(human) if h[t] is not None), None) for t in tasks}
    parity_index = {t: next((i for i, h in enumerate(human) if h[t] is not None and h[t]["cost"] <= wages[t]),
                            None) for t in tasks}
    parity_all = next((i for i, h in enumerate(human)
                       if all(h[t] is not None and h[t]["cost"] <= wages[t] for t in tasks)), None)
    regulated = [r["regulated_share"] for r in rows if r["regulated_share"] is not None]
    first_evasion = model.regulator.first_evasion_step
    models = []
    for lab in model.labs + [m for m in model.exited_labs]:
        for trained in lab.models:
            models.append({
                "name": trained.name, "lab": trained.lab, "raw_flop": trained.raw_flop,
                "ida_flop": trained.ida_flop, "eoom_pre": trained.eoom_pre, "training_cost": trained.training_cost,
                "release_step": trained.release_step, "open_weights": trained.open_weights,
                "regulated": trained.regulated, "built_on": trained.built_on,
                "lifetime_inference_spend": trained.inference_spend,
                "weights_value_share": trained.weights_value_share,
            })
    return {
        "version": package_version(),
        "seed": model.seed,
        "steps": len(rows),
        "scenario_hash": scenario_hash(s),
        "final_hhi": rows[-1]["hhi"] if rows else None,
        "mean_last_year_hhi": float(np.mean(hhis)) if hhis else None,
        "final_n_labs": rows[-1]["n_labs"] if rows else None,
        "total_arrivals": int(sum(r["arrivals"] for r in rows)),
        "total_entries": int(sum(r["entries"] for r in rows)),
        "total_exits": int(sum(r["exits"] for r in rows)),
        "agi_year": agi[0]["year"] if agi else None,
        "agi_cost_per_task": {t: agi[1][t]["cost"] for t in tasks} if agi else None,
        "agi_cost_ratio": {t: agi[1][t]["cost"] / wages[t] if wages[t] > 0 else None for t in tasks}
        if agi else None,
        "agi_copies": {t: agi[1][t]["copies"] for t in tasks} if agi else None,
        "parity_year": year_of(parity_all),
        "human_level_year": {t: year_of(human_level_index[t]) for t in tasks},
        "human_level_cost_ratio": {t: (human[human_level_index[t]][t]["cost"] / wages[t]
                                       if human_level_index[t] is not None and wages[t] > 0 else None)
                                   for t in tasks},
        "parity_year_by_task": {t: year_of(parity_index[t]) for t in tasks},
        "peak_regulated_share": max(regulated) if regulated else None,
        "first_evasion_step": first_evasion,
        "first_evasion_year": year_of(first_evasion),
        "final_frontier_eoom": rows[-1]["frontier_eoom"] if rows else None,
        "final_open_gap_eoom": rows[-1]["open_gap_eoom"] if rows else None,
        "mean_inference_share": (float(np.mean([r["inference_share"] for r in rows
                                                 if r["inference_share"] is not None]))
                                 if any(r["inference_share"] is not None for r in rows) else None),
        "unconverged_steps": list(model.unconverged_steps),
        "max_nash_residual": max((r["nash_residual"] for r in rows), default=None),
        "models": models,
        "scenario": scenario_to_dict(s),
    }
