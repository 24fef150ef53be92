"""Q3, governance: regulated share of frontier-capable usage and evading labs per policy and threshold."""

from __future__ import annotations

from aimarket.experiments.analysis.figures import (
    LINESTYLES,
    PALETTE,
    Figure,
    band,
    draw_band,
    factor_keys,
    factor_levels,
    format_value,
    grouped,
    legend,
    new_figure,
    style,
    year_axis,
)
from aimarket.experiments.questions.sweeps import sources, sweeps

_Q3 = "q3_governance"


def q3_governance(source) -> Figure:
    """Regulated share of frontier-capable usage and evading labs over time: one column per policy,
    one line per threshold (and per any other factor)."""
    sw = sweeps(source)
    sw.require(_Q3)
    res = sw[_Q3]
    keys = factor_keys(res)
    ts = res.timeseries
    long = ts.melt(id_vars=["run_id", *keys, "year"], value_vars=["regulated_share", "evading_labs"],
                   var_name="measure", value_name="value")
    data = band(long, [*keys, "measure", "year"], "value")
    col_key = "regulator.policy" if "regulator.policy" in keys else None
    line_keys = [k for k in keys if k != col_key]
    columns = factor_levels(res, col_key, data[col_key]) if col_key else [None]
    rows = {"regulated_share": "regulated share of\nfrontier-capable usage (0-1)",
            "evading_labs": "evading labs (count)"}
    with style():
        fig, axes = new_figure(len(columns), nrows=2, height=2.3, width=max(6.5, 2.4 * len(columns)),
                                sharex=True, sharey="row")
        for j, column in enumerate(columns):
            for r, (measure, ylabel) in enumerate(rows.items()):
                ax = axes[r][j]
                d = data[data["measure"] == measure]
                if col_key:
                    d = d[d[col_key] == column]
                for i, (label, sub) in enumerate(grouped(d, line_keys)):
                    draw_band(ax, sub, "year", color=PALETTE[i], linestyle=LINESTYLES[i % 4], label=label)
                if r == 0:
                    ax.set_ylim(-0.02, 1.02)
                    title = format_value("regulator.policy", column) if col_key else "all runs"
                    ax.set_title(f"{'abcdefgh'[j]}  {title}")
                if j == 0:
                    ax.set_ylabel(ylabel)
                if r == 1:
                    year_axis(ax)
        legend(fig, axes[0][0])
    caption = ("Governance by thresholds (mean over replications with a 5-95% band). Top: share of "
               "frontier-capable usage (tasks served at a deployed capability of at least log10(threshold) "
               "eOOM) served by regulated models; one minus it escapes regulation. Bottom: labs serving at "
               "that capability with an unregulated model.")
    return Figure("q3_governance", "q3", "Regulated share and evading labs by policy and threshold", caption, fig,
                  data, sources(sw, [_Q3]))
