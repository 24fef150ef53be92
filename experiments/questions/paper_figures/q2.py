"""Q2, the price of AGI: cost of the cheapest human-level answer over the wage, and at the AGI step."""

from __future__ import annotations

import numpy as np
import pandas as pd

from aimarket.experiments.analysis.figures import (
    LINESTYLES,
    MARKERS,
    PALETTE,
    Figure,
    band,
    draw_band,
    factor_keys,
    grouped,
    legend,
    new_figure,
    run_value,
    style,
    task_names,
    year_axis,
)
from aimarket.experiments.questions.sweeps import sources, sweeps

_Q2 = "q2_agi_price"


def _summary_column(summary: pd.DataFrame, name: str) -> pd.Series:
    """A flattened summary column (all null if no run had a value, e.g. agi_copies without AGI)."""
    if name in summary.columns:
        return pd.to_numeric(summary[name], errors="coerce")
    return pd.Series(np.nan, index=summary.index, name=name)


def q2_runs(source) -> pd.DataFrame:
    """One row per finished run x task type: the factor columns, task, human-level year, cost over
    wage at the first human-level step, copies served at once at the AGI step (every task type human
    level), parity year (AI cost below the wage) and the years from human level to parity
    (null when the cost never fell below the wage within the run)."""
    sw = sweeps(source)
    sw.require(_Q2)
    res = sw[_Q2]
    s = res.summary
    keys = factor_keys(res)
    frames = []
    for task in task_names(res):
        df = s[["run_id", *keys]].copy()
        df["task"] = task
        df["human_level_year"] = _summary_column(s, f"human_level_year.{task}")
        df["cost_ratio"] = _summary_column(s, f"human_level_cost_ratio.{task}")
        df["copies_at_agi"] = _summary_column(s, f"agi_copies.{task}")
        df["parity_year"] = _summary_column(s, f"parity_year_by_task.{task}")
        df["years_to_parity"] = df["parity_year"] - df["human_level_year"]
        df["agi_year"] = _summary_column(s, "agi_year")
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def q2_cost_over_time(source) -> Figure:
    """Cost of the cheapest human-level answer over the human wage, by task type, over time."""
    sw = sweeps(source)
    sw.require(_Q2)
    res = sw[_Q2]
    ts = res.timeseries
    keys = factor_keys(res)
    tasks = task_names(res)
    frames = []
    for task in tasks:
        wage = run_value(res, f"tasks.{task}.wage").astype(float)
        d = ts[["run_id", *keys, "year"]].copy()
        d["task"] = task
        d["ratio"] = ts[f"human_level_cost_{task}"].astype(float) / ts["run_id"].map(wage)
        frames.append(d)
    long = pd.concat(frames, ignore_index=True)
    data = band(long, [*keys, "task", "year"], "ratio")
    with style():
        fig, axes = new_figure(len(tasks), height=2.5, sharey=True)
        for ax, task, letter in zip(axes[0], tasks, "abcdefgh", strict=False):
            d = data[data["task"] == task]
            for i, (label, sub) in enumerate(grouped(d, keys)):
                draw_band(ax, sub, "year", color=PALETTE[i], linestyle=LINESTYLES[0], label=label)
            ax.axhline(1.0, color="0.3", linewidth=0.8, linestyle="--", label="human wage")
            ax.set_yscale("log")
            year_axis(ax)
            ax.set_title(f"{letter}  {task}")
        axes[0][0].set_ylabel("cost per task / human wage (ratio)")
        legend(fig, axes[0][0])
    caption = ("Marginal cost of the cheapest offer that reaches human level on each task type, over the "
               "human wage for the task (mean over replications with a 5-95% band; gaps: no system at "
               "human level yet). Below the dashed line AI is cheaper than a human.")
    return Figure("q2_cost_over_time", "q2", "Cost of a human-level answer over the wage", caption, fig, data,
                  sources(sw, [_Q2]))


def q2_agi_price(source) -> Figure:
    """Per task type: cost over wage at the first human-level step, copies served at once at the AGI
    step and years from human level to a cost below the wage (mean, 5-95% interval)."""
    sw = sweeps(source)
    runs = q2_runs(sw)
    res = sw[_Q2]
    keys = factor_keys(res)
    tasks = task_names(res)
    measures = {
        "cost_ratio": ("cost per task / human wage (ratio)", "a  Cost at first human level", True),
        "copies_at_agi": ("copies served at once (count)", "b  Copies at AGI", True),
        "years_to_parity": ("years until cost < wage (years)", "c  Years to parity", False),
    }
    long = runs.melt(id_vars=["run_id", *keys, "task"], value_vars=list(measures), var_name="measure",
                     value_name="value")
    data = band(long, [*keys, "measure", "task"], "value")
    n_runs = long.groupby([*keys, "measure", "task"], sort=True)["run_id"].nunique().rename("n_runs").reset_index()
    data = data.merge(n_runs, on=[*keys, "measure", "task"], how="left")
    data["task"] = pd.Categorical(data["task"], categories=tasks, ordered=True)
    data = data.sort_values([*keys, "measure", "task"]).reset_index(drop=True)
    data["task"] = data["task"].astype(str)
    with style():
        fig, axes = new_figure(3, height=2.5)
        groups = list(grouped(data, keys))
        width = 0.8 / max(1, len(groups))
        for ax, (measure, (ylabel, title, log)) in zip(axes[0], measures.items(), strict=True):
            for i, (label, sub) in enumerate(groups):
                d = sub[sub["measure"] == measure]
                pos = np.array([tasks.index(t) for t in d["task"]], dtype=float) + (i - (len(groups) - 1) / 2) * width
                yerr = np.clip(np.vstack([d["mean"] - d["lo"], d["hi"] - d["mean"]]), 0.0, None)
                ax.errorbar(pos, d["mean"], yerr=yerr, fmt=MARKERS[i], color=PALETTE[i], label=label)
                if measure == "years_to_parity":
                    for x, (_, row) in zip(pos, d.iterrows(), strict=True):
                        ax.annotate(f"{row['n']}/{row['n_runs']}", (x, row["hi"]), textcoords="offset points",
                                    xytext=(0, 3), ha="center", fontsize=6.5)
            ax.set_xticks(range(len(tasks)), tasks)
            ax.set_xlim(-0.6, len(tasks) - 0.4)
            ax.set_xlabel("task type")
            if log:
                ax.set_yscale("log")
            if measure == "cost_ratio":
                ax.axhline(1.0, color="0.3", linewidth=0.8, linestyle="--")
            ax.set_ylabel(ylabel)
            ax.set_title(title)
        if keys:
            legend(fig, axes[0][0])
    caption = ("The price of AGI, per task type (mean over replications, bars 5-95%). a: cost of the "
               "cheapest human-level offer over the human wage at the first step any system reaches human "
               "level (step 0 if it already does). b: copies of the frontier model its training fleet serves "
               "at once at the first step every task type is at human level. c: years from human level "
               "until the cost falls below the wage, over the runs where it did (labels: runs/total).")
    return Figure("q2_agi_price", "q2", "The price of AGI", caption, fig, data, sources(sw, [_Q2]))
