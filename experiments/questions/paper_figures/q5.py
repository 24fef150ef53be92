"""Q5, IDA: frontier eOOM against the data wall, HHI and regulated share, IDA off and on."""

from __future__ import annotations

import numpy as np

from aimarket.experiments.analysis.figures import (
    LINESTYLES,
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
    year_axis,
)
from aimarket.experiments.questions.sweeps import sources, sweeps

_Q5 = "q5_ida"


def q5_ida(source) -> Figure:
    """Frontier pre-training eOOM (against the data wall), HHI and regulated share over time, per IDA
    setting."""
    sw = sweeps(source)
    sw.require(_Q5)
    res = sw[_Q5]
    keys = factor_keys(res)
    measures = {
        "frontier_raw_oom": ("frontier raw training compute\n(log10 FLOP)", "a  Frontier compute"),
        "hhi": ("HHI of revenue shares (0-1)", "b  Concentration"),
        "regulated_share": ("regulated share of\nfrontier-capable usage (0-1)", "c  Regulated share"),
    }
    frame = res.timeseries.assign(frontier_raw_oom=np.log10(res.timeseries["frontier_training_flop"].astype(float)))
    long = frame.melt(id_vars=["run_id", *keys, "year"], value_vars=list(measures), var_name="measure",
                               value_name="value")
    data = band(long, [*keys, "measure", "year"], "value")
    walls = run_value(res, "capability.data_wall_raw_flop").astype(float).unique()
    with style():
        fig, axes = new_figure(3, height=2.6)
        for ax, (measure, (ylabel, title)) in zip(axes[0], measures.items(), strict=True):
            for i, (label, sub) in enumerate(grouped(data[data["measure"] == measure], keys)):
                draw_band(ax, sub, "year", color=PALETTE[i], linestyle=LINESTYLES[i % 4], label=label)
            ax.set_ylabel(ylabel)
            ax.set_title(title)
            year_axis(ax)
        for wall in walls:
            axes[0][0].axhline(wall, color="0.3", linewidth=0.8, linestyle="--",
                               label=f"data wall ({wall:g} log10 raw FLOP)")
        axes[0][2].set_ylim(-0.02, 1.02)
        axes[0][1].set_ylim(bottom=0)
        legend(fig, axes[0][0])
    caption = ("Inference during training (mean over replications with a 5-95% band). a: pre-training "
               "capability of the frontier model, including the IDA gain, against the data wall (dashed). "
               "b: HHI. c: share of frontier-capable usage served by regulated models under the "
               "training-compute threshold.")
    return Figure("q5_ida", "q5", "IDA: frontier capability past the data wall, concentration, regulation",
                  caption, fig, data, sources(sw, [_Q5]))
