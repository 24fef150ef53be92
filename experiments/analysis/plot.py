"""Figures of any sweep: the mean and a band across runs of one output, against time or a factor.

    from aimarket.experiments.analysis import plot
    figure = plot.plot_output("results/smoke", "hhi", x="year", by=["users.switching_cost"])
    figure.data      # by..., x, mean, lo, hi, n: exactly what is drawn
    plot.write_plot(figure, "results/smoke/plots/hhi.png")   # and hhi.csv beside it

``y`` is a timeseries column (docs/outputs.md) or a numeric summary entry (``final_hhi``,
``agi_cost_ratio.reasoning``). ``x`` is ``step`` or ``year`` (timeseries outputs) or a factor of the
sweep. Against a factor, a timeseries output is taken as each run's mean over its last simulated
year. ``by`` lists factors: one line per setting. Runs of the factors not in ``by`` or ``x`` are
pooled, and the caption says so. The band is the 5th-95th percentile of the runs' values (as in
:mod:`aimarket.experiments.analysis.figures`); the legend gives the number of runs per point.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from aimarket.experiments.analysis import figures as F
from aimarket.simulation.errors import UserInputError
from aimarket.simulation.outputs import atomic_write

TIME_AXES = ("step", "year")
#: More settings than this in ``by`` make an unreadable figure.
MAX_LINES = 8
#: A factor with more distinct values than this (a sampled range) is drawn as points, not a line.
MAX_LINE_LEVELS = 12
_UNITS = (  # (prefix or name, unit), first match wins
    ("n_labs", "labs"), ("evading_labs", "labs"), ("entries", "labs"), ("exits", "labs"), ("final_n_labs", "labs"),
    ("total_", "labs"), ("hhi", "0-1"), ("cr4", "0-1"), ("final_hhi", "0-1"), ("mean_last_year_hhi", "0-1"),
    ("inference_share", "0-1"), ("mean_inference_share", "0-1"), ("regulated_share", "0-1"),
    ("peak_regulated_share", "0-1"), ("outside_share", "0-1"), ("selfhost_share", "0-1"),
    ("frontier_copies", "copies"), ("frontier_eoom", "eOOM"), ("final_frontier_eoom", "eOOM"),
    ("open_gap_eoom", "eOOM"), ("final_open_gap_eoom", "eOOM"), ("price_", "USD/task"),
    ("human_level_cost_", "USD/task"), ("k_", "x"), ("max_site_power_mw", "MW"), ("inference_energy_mwh", "MWh/step"),
    ("revenue", "USD/step"), ("training_spend", "USD/step"), ("inference_spend", "USD/step"),
    ("consumer_surplus", "USD/step"), ("profit", "USD/step"), ("agi_year", "year"), ("parity_year", "year"),
    ("first_evasion_year", "year"), ("human_level_year", "year"), ("agi_cost_ratio", "ratio"),
    ("human_level_cost_ratio", "ratio"),
)


def unit(output: str) -> str:
    """The unit of an output (docs/outputs.md), or "" when it is not a known one."""
    for prefix, name in _UNITS:
        if output == prefix or output.startswith(prefix):
            return name
    return ""


def output_kind(res, y: str) -> str:
    """``"timeseries"`` or ``"summary"``: where the sweep ``res`` stores output ``y``."""
    design = set(res.design.columns)
    ts = res.timeseries
    if ts is not None and y in ts.columns and y not in design:
        return "timeseries"
    summary = res.summary
    if y in summary.columns and y not in design:
        if not pd.api.types.is_numeric_dtype(summary[y].dropna().infer_objects()):
            raise UserInputError(f"--y {y}: not a numeric output")
        return "summary"
    numeric_ts = [c for c in (ts.columns if ts is not None else []) if c not in design
                  and pd.api.types.is_numeric_dtype(ts[c])]
    numeric_summary = [c for c in summary.columns if c not in design and pd.api.types.is_numeric_dtype(summary[c])]
    raise UserInputError(f"--y {y}: not an output of this sweep (timeseries: {', '.join(numeric_ts) or 'none kept'}; "
                         f"summary: {', '.join(numeric_summary)})")


def _check_factors(res, names: list[str], option: str) -> None:
    factors = F.factor_keys(res)
    for name in names:
        if name not in factors:
            allowed = ", ".join(factors) if factors else "none: the sweep has no factors"
            raise UserInputError(f"{option} {name}: not a factor of this sweep (factors: {allowed})")


def per_run(res, y: str) -> pd.DataFrame:
    """One value of ``y`` per finished run: the summary entry, or a timeseries output's mean over the
    run's last simulated year. Columns: run_id, the factors, ``y``."""
    keys = F.factor_keys(res)
    if output_kind(res, y) == "summary":
        return res.summary[["run_id", *keys, y]].astype({y: float})
    ts = F.last_year(res.timeseries, F.steps_per_year(res))
    return ts.groupby(["run_id", *keys], sort=True, dropna=False)[y].mean().reset_index()


def plot_data(res, y: str, x: str = "step", by: list[str] | None = None) -> pd.DataFrame:
    """The band drawn by :func:`plot_output`: columns ``*by, x, mean, lo, hi, n``."""
    by = list(by or [])
    _check_factors(res, by, "--by")
    kind = output_kind(res, y)
    if x in TIME_AXES:
        if kind == "summary":
            raise UserInputError(f"--x {x}: {y} is a summary output (one value per run); plot it against a "
                                 f"factor ({', '.join(F.factor_keys(res)) or 'the sweep has none'})")
        table = res.timeseries
    else:
        _check_factors(res, [x], "--x")
        if x in by:
            raise UserInputError(f"--by {x}: already on the x axis")
        table = per_run(res, y)
    settings = table[by].drop_duplicates() if by else pd.DataFrame(index=[0])
    if len(settings) > MAX_LINES:
        raise UserInputError(f"--by {','.join(by)}: {len(settings)} settings, more than {MAX_LINES} lines "
                             "(choose a factor with fewer levels)")
    return F.band(table, [*by, x], y)




def _axis_label(res, x: str) -> str:
    if x == "step":
        return "step"
    if x == "year":
        return "time (calendar year)"
    name, suffix = F.FACTOR_NAMES.get(x, (x, ""))
    return f"{name or x}{' (' + suffix.strip() + ')' if suffix.strip() else ''}"


def plot_output(source, y: str, x: str = "step", by: list[str] | None = None) -> F.Figure:
    """The figure of output ``y`` of the sweep in ``source`` (a folder or SweepResults) against ``x``,
    one line per setting of the factors ``by``; see the module docstring."""
    from aimarket.experiments.sweeps.store import SweepResults, load

    res = source if isinstance(source, SweepResults) else load(source)
    if not res.done:
        raise F.MissingResults(f"{res.path}: no finished runs")
    by = list(by or [])
    data = plot_data(res, y, x, by)
    pooled = [k for k in F.factor_keys(res) if k not in by and k != x]
    many = x not in TIME_AXES and data[x].nunique() > MAX_LINE_LEVELS
    with F.style():
        fig, axes = F.new_figure(1, height=3.0, width=5.5)
        ax = axes[0][0]
        groups = data.groupby(by, sort=True) if by else [((), data)]
        for i, (values, d) in enumerate(groups):
            values = values if isinstance(values, tuple) else (values,)
            label = F.setting_label(by, values) if by else "all runs"
            color = F.PALETTE[i % len(F.PALETTE)]
            if many:
                ax.errorbar(d[x], d["mean"], yerr=[d["mean"] - d["lo"], d["hi"] - d["mean"]], fmt=F.MARKERS[i % 6],
                            color=color, label=f"{label} ({F.count_text(d['n'])})", linewidth=0.8)
            else:
                F.draw_band(ax, d, x, color=color, label=label, linestyle=F.LINESTYLES[i % 4],
                             marker=None if x in TIME_AXES else F.MARKERS[i % 6])
        ax.set_xlabel(_axis_label(res, x))
        ax.set_ylabel(f"{y} ({unit(y)})" if unit(y) else y)
        if x == "year":
            F.year_axis(ax)
        values = data[x]
        if x not in TIME_AXES and values.dtype.kind in "fi" and values.min() > 0 and values.max() / values.min() > 50:
            ax.set_xscale("log")  # a factor spanning orders of magnitude (e.g. a log-sampled range)
        ax.legend(loc="best")
    what = y if x in TIME_AXES or output_kind(res, y) == "summary" else f"{y} (each run's mean over its last year)"
    caption = (f"{what} against {_axis_label(res, x)}: mean across runs with a band from the 5th to the 95th "
               "percentile of the runs' values; n in the legend counts the runs per point"
               + (f"; runs pooled over {', '.join(pooled)}" if pooled else "") + ".")
    name = "_".join([y, "vs", x, *(["by", *by] if by else [])]).replace("/", "-")
    return F.Figure(name, "", f"{y} against {x}", caption, fig, data, {res.path.name: str(res.path)})


def write_plot(figure: F.Figure, out: str | Path, dpi: int = 300) -> list[Path]:
    """Write the figure to ``out`` (format from its suffix: .png, .pdf or .svg) and the data drawn to
    the .csv beside it, both atomically; returns the two paths."""
    out = Path(out)
    fmt = out.suffix.lower().lstrip(".")
    if fmt not in ("png", "pdf", "svg"):
        raise UserInputError(f"--out {out}: give a .png, .pdf or .svg file name")
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.name = out.stem
    image = figure.save(out.parent, formats=(fmt,), dpi=dpi)[0]
    table = atomic_write(out.with_suffix(".csv"), lambda tmp: figure.data.to_csv(tmp, index=False))
    return [image, table]


