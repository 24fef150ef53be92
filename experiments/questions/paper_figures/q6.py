"""Q6, energy: single-site training power against inference power by calendar year."""

from __future__ import annotations

import pandas as pd

from aimarket.experiments.analysis.figures import (
    HOURS_PER_YEAR,
    MARKERS,
    PALETTE,
    Figure,
    band,
    base_value,
    calendar_year,
    draw_band,
    factor_keys,
    grouped,
    legend,
    new_figure,
    steps_per_year,
    style,
    year_axis,
)
from aimarket.experiments.questions.sweeps import sources, sweeps

_Q6 = "q6_energy"


def q6_years(source) -> pd.DataFrame:
    """One row per finished Q6 run x complete calendar year: the factor columns, year, the largest
    single-site training power of the year [MW] (max over its steps), inference energy of the year
    [MWh] and its average power [MW] (energy over the hours of the year)."""
    sw = sweeps(source)
    sw.require(_Q6)
    res = sw[_Q6]
    keys = factor_keys(res)
    spy = steps_per_year(res)
    step_years = float(base_value(res.manifest, "time.step_years"))
    ts = res.timeseries.copy()
    ts["calendar_year"] = calendar_year(ts["year"])
    g = ts.groupby(["run_id", *keys, "calendar_year"], sort=True)
    years = g.agg(training_site_power_mw=("max_site_power_mw", "max"),
                  inference_energy_mwh=("inference_energy_mwh", "sum"), steps=("step", "count")).reset_index()
    years = years[years["steps"] == spy].drop(columns=["steps"])
    years["inference_power_mw"] = years["inference_energy_mwh"] / (spy * step_years * HOURS_PER_YEAR)
    return years.rename(columns={"calendar_year": "year"}).reset_index(drop=True)


def q6_energy(source) -> Figure:
    """Largest single-site training power against average inference power [MW] by calendar year,
    one panel per setting."""
    sw = sweeps(source)
    years = q6_years(sw)
    res = sw[_Q6]
    keys = factor_keys(res)
    long = years.melt(id_vars=["run_id", *keys, "year"], value_vars=["training_site_power_mw", "inference_power_mw"],
                      var_name="measure", value_name="value")
    data = band(long, [*keys, "measure", "year"], "value")
    groups = list(grouped(data, keys))
    names = {"training_site_power_mw": "largest single training site", "inference_power_mw": "all inference (average)"}
    with style():
        fig, axes = new_figure(len(groups), height=2.7, width=max(6.5, 3.2 * len(groups)), sharey=True)
        for j, (label, sub) in enumerate(groups):
            ax = axes[0][j]
            for i, (measure, name) in enumerate(names.items()):
                d = sub[(sub["measure"] == measure) & (sub["mean"] > 0)]
                draw_band(ax, d, "year", color=PALETTE[i], marker=MARKERS[i], label=name)
            ax.set_yscale("log")
            year_axis(ax)
            ax.set_title(f"{'abcdefgh'[j]}  {label}")
        axes[0][0].set_ylabel("electric power (MW)")
        legend(fig, axes[0][0])
    caption = ("Data centres and energy (mean over replications with a 5-95% band), per calendar year. "
               "Largest single training site: the highest power any one training run draws that year. All "
               "inference: the year's inference energy divided by the hours in a year, i.e. its average "
               "power, spread over many sites.")
    return Figure("q6_energy", "q6", "Single-site training power against inference energy", caption, fig, data,
                  sources(sw, [_Q6]))
