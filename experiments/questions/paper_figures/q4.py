"""Q4, open weights: the open-model gap over time and the weights value share by release year."""

from __future__ import annotations

import numpy as np
import pandas as pd

from aimarket.experiments.analysis.figures import (
    MARKERS,
    PALETTE,
    Figure,
    band,
    base_value,
    draw_band,
    factor_keys,
    grouped,
    legend,
    new_figure,
    style,
    year_axis,
)
from aimarket.experiments.questions.sweeps import sources, sweeps

_Q4 = "q4_open_weights"


def q4_models(source) -> pd.DataFrame:
    """One row per released model of every finished Q4 run (from summary.json's ``models``): the
    factor columns, run_id, model, lab, open_weights, release_step, release_year (calendar year of
    release), training_cost [$], lifetime_inference_spend [$] and weights_value_share (training cost
    over lifetime inference spend; null when the model served nothing)."""
    from aimarket.experiments.sweeps.store import read_summary

    sw = sweeps(source)
    sw.require(_Q4)
    res = sw[_Q4]
    keys = factor_keys(res)
    start = float(base_value(res.manifest, "time.start_year"))
    step_years = float(base_value(res.manifest, "time.step_years"))
    design = res.design[res.design["status"] == "done"].set_index("run_id")
    rows = []
    for rid in res.done:
        summary = read_summary(res.path, rid)
        for m in summary.get("models", []):
            if m.get("release_step") is None:
                continue
            rows.append({
                "run_id": rid, **{k: design.at[rid, k] for k in keys},
                "model": m["name"], "lab": m["lab"], "open_weights": bool(m["open_weights"]),
                "release_step": int(m["release_step"]),
                "release_year": int(np.floor(start + m["release_step"] * step_years + 1e-9)),
                "training_cost": float(m["training_cost"]),
                "lifetime_inference_spend": float(m["lifetime_inference_spend"]),
                "weights_value_share": (np.nan if m.get("weights_value_share") is None
                                        else float(m["weights_value_share"])),
            })
    columns = ["run_id", *keys, "model", "lab", "open_weights", "release_step", "release_year", "training_cost",
               "lifetime_inference_spend", "weights_value_share"]
    return pd.DataFrame(rows, columns=columns)


def q4_open_weights(source) -> Figure:
    """(a) open-model gap over time; (b) weights value share of models by release year (each run's
    mean over its models released that year; then mean and band across runs)."""
    sw = sweeps(source)
    sw.require(_Q4)
    res = sw[_Q4]
    keys = factor_keys(res)
    gap = band(res.timeseries, [*keys, "year"], "open_gap_eoom").assign(measure="open_gap_eoom")
    models = q4_models(sw)
    per_run = (models.dropna(subset=["weights_value_share"])
               .groupby(["run_id", *keys, "release_year"], sort=True)["weights_value_share"].mean().reset_index())
    share = band(per_run, [*keys, "release_year"], "weights_value_share").rename(columns={"release_year": "year"})
    share = share.assign(measure="weights_value_share")
    data = pd.concat([gap, share], ignore_index=True)[[*keys, "measure", "year", "mean", "lo", "hi", "n"]]
    data["year"] = data["year"].astype(float)
    with style():
        fig, axes = new_figure(2, height=2.7)
        for i, (label, sub) in enumerate(grouped(data, keys)):
            draw_band(axes[0][0], sub[sub["measure"] == "open_gap_eoom"], "year", color=PALETTE[i], label=label)
            draw_band(axes[0][1], sub[sub["measure"] == "weights_value_share"], "year", color=PALETTE[i],
                       marker=MARKERS[i], label=label)
        axes[0][0].set_ylabel("open-model gap to the frontier (eOOM)")
        axes[0][0].set_title("a  Open-model gap")
        axes[0][1].set_ylabel("training cost /\nlifetime inference spend (ratio)")
        axes[0][1].set_yscale("log")
        axes[0][1].axhline(1.0, color="0.3", linewidth=0.8, linestyle="--")
        axes[0][1].set_title("b  Weights value share")
        for ax in axes[0]:
            year_axis(ax)
        axes[0][1].set_xlabel("release date (calendar year)")
        legend(fig, axes[0][0])
    caption = ("Open weights (mean over replications with a 5-95% band). a: pre-training capability of the "
               "frontier model minus that of the best open-weight model. b: value of a model's weights (its "
               "training cost) over its lifetime inference spend, by year of release; below the dashed line "
               "inference dominates a model's lifetime cost. Recent models have served only part of their "
               "lifetime, which inflates their ratio.")
    return Figure("q4_open_weights", "q4", "Open-model gap and the value of weights", caption, fig, data,
                  sources(sw, [_Q4]))
