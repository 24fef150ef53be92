"""Q1, market concentration: Sutton's bounds plot and concentration against market size."""

from __future__ import annotations

import numpy as np
import pandas as pd

from aimarket.experiments.analysis.figures import (
    MARKERS,
    PALETTE,
    Figure,
    band,
    draw_band,
    last_year,
    legend,
    new_figure,
    run_value,
    steps_per_year,
    style,
)
from aimarket.experiments.questions.sweeps import sources, sweeps

#: Q1's two experiments and the regime each stands for.
REGIMES = {
    "q1_concentration_pretraining": "pre-training-dominated",
    "q1_concentration_inference": "inference-dominated",
}
#: Sutton's textbook cases (docs/ODD.md §8.2), set beside the regimes in the bounds plot.
TEXTBOOK = {
    "sutton_exogenous": "Sutton: exogenous sunk costs",
    "sutton_endogenous": "Sutton: endogenous sunk costs",
}


def q1_runs(source, series: dict[str, str] = REGIMES) -> pd.DataFrame:
    """One row per finished run of the sweeps named in ``series`` (``{experiment: label}``; default
    Q1's two regimes): regime (the label), run_id, replication, market scale, market size S [$ per
    year], sunk cost sigma [$], log10(S / sigma), last-year mean HHI and CR4, surviving labs at the
    last step.

    S is the potential market: the tasks of one year at step 0 times the median value of a successful
    task, summed over task types, times ``demand.market_scale``. sigma is the setup cost an entrant
    sinks (``entry.cost``). Both come from each run's scenario, so ``S / sigma`` is exogenous.
    """
    sw = sweeps(source)
    names = sw.require(*series)
    frames = []
    for name in names:
        res = sw[name]
        spy = steps_per_year(res)
        ts = res.timeseries
        last = last_year(ts, spy).groupby("run_id").agg(hhi=("hhi", "mean"), cr4=("cr4", "mean"))
        final = ts.loc[ts.groupby("run_id")["step"].idxmax()].set_index("run_id")["n_labs"]
        tasks = res.manifest["base_scenario"]["tasks"]
        annual_value = sum(float(t["tasks_per_step"]) * float(t["value"]) for t in tasks) * spy
        scale = run_value(res, "demand.market_scale").astype(float)
        sunk = run_value(res, "entry.cost").astype(float)
        design = res.design[res.design["status"] == "done"].set_index("run_id")
        df = pd.DataFrame(
            {
                "regime": series[name],
                "replication": design["replication"],
                "market_scale": scale,
                "market_size_usd": scale * annual_value,
                "sunk_cost_usd": sunk,
            }
        )
        df["log_size_over_sunk"] = np.log10(df["market_size_usd"] / df["sunk_cost_usd"])
        df = df.join(last).join(final.rename("n_labs"))
        frames.append(df.reset_index())
    out = pd.concat(frames, ignore_index=True)
    return out[["regime", "run_id", "replication", "market_scale", "market_size_usd", "sunk_cost_usd",
                "log_size_over_sunk", "hhi", "cr4", "n_labs"]]


def q1_bounds(source) -> Figure:
    """Sutton's bounds plot: every run's last-year HHI and CR4 against log10(S / sigma), and the lower
    envelope (the minimum over runs at each market size) per regime and, where the source holds their
    sweeps, per textbook case (dashed)."""
    sw = sweeps(source)
    cases = {n: label for n, label in TEXTBOOK.items() if n in sw.folders and len(sw[n].done) > 0}
    runs = pd.concat([q1_runs(sw)] + ([q1_runs(sw, cases)] if cases else []), ignore_index=True)
    for measure in ("hhi", "cr4"):
        runs[f"{measure}_envelope"] = runs.groupby(["regime", "market_scale"])[measure].transform("min")
    with style():
        fig, axes = new_figure(2, width=7.0, height=2.9)
        labels = {"hhi": "HHI of revenue shares (0-1)", "cr4": "CR4, revenue share of top 4 (0-1)"}
        for ax, measure in zip(axes[0], ("hhi", "cr4"), strict=True):
            for i, regime in enumerate([*REGIMES.values(), *TEXTBOOK.values()]):
                d = runs[runs["regime"] == regime]
                if d.empty:
                    continue
                color, marker = PALETTE[i], MARKERS[i]
                ax.scatter(d["log_size_over_sunk"], d[measure], s=12, color=color, marker=marker, alpha=0.45,
                           linewidths=0)
                env = d.drop_duplicates("market_scale").sort_values("log_size_over_sunk")
                ax.plot(env["log_size_over_sunk"], env[f"{measure}_envelope"], color=color, marker=marker,
                        linestyle="-" if i < len(REGIMES) else "--", label=f"{regime}: lower envelope")
            ax.set_xlabel("log10(S/σ)  (S: market size, USD/yr; σ: sunk cost, USD)")
            ax.set_ylabel(labels[measure])
            ax.set_ylim(bottom=0)
            ax.set_title({"hhi": "a  HHI", "cr4": "b  CR4"}[measure])
        legend(fig, axes[0][0], ncols=2)
    caption = ("Sutton's bounds plot. Dots: one run each (mean over its last simulated year); lines: lower "
               "envelope (minimum over runs) per regime, dashed for Sutton's textbook cases (their own "
               "stylised scenarios, docs/ODD.md §8.2). Market size S: one year of tasks at the median "
               "value of a successful task, times the market scale; sunk cost sigma: the entry cost.")
    return Figure("q1_bounds", "q1", "Concentration against market size over sunk cost", caption, fig, runs,
                  sources(sw, [n for n in [*REGIMES, *cases] if n in sw.folders]))


def q1_market_size(source) -> Figure:
    """Last-year HHI, CR4 and surviving labs against market scale: mean and 90% band per regime."""
    sw = sweeps(source)
    runs = q1_runs(sw)
    long = runs.melt(id_vars=["regime", "run_id", "market_scale"], value_vars=["hhi", "cr4", "n_labs"],
                     var_name="measure", value_name="value")
    data = band(long, ["regime", "measure", "market_scale"], "value")
    ylabels = {"hhi": "HHI of revenue shares (0-1)", "cr4": "CR4, revenue share of top 4 (0-1)",
               "n_labs": "surviving labs (count)"}
    with style():
        fig, axes = new_figure(3, height=2.5)
        for ax, (measure, ylabel), letter in zip(axes[0], ylabels.items(), "abc", strict=True):
            for i, regime in enumerate(REGIMES.values()):
                d = data[(data["regime"] == regime) & (data["measure"] == measure)]
                if not d.empty:
                    draw_band(ax, d, "market_scale", color=PALETTE[i], marker=MARKERS[i], label=regime)
            ax.set_xscale("log")
            ax.set_xlabel("market scale (x default demand)")
            ax.set_ylabel(ylabel)
            ax.set_title(f"{letter}  " + {"hhi": "HHI", "cr4": "CR4", "n_labs": "Surviving labs"}[measure])
            ax.set_ylim(bottom=0)
        legend(fig, axes[0][0])
    caption = ("Concentration and the number of labs at the end of the run against market size (mean over "
               "replications with a 5-95% band), pre-training-dominated versus inference-dominated regime.")
    return Figure("q1_market_size", "q1", "Concentration and surviving labs by market size", caption, fig,
                  data, sources(sw, [n for n in REGIMES if n in sw.folders]))
