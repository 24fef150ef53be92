"""Paper figures of the research questions, drawn from stored sweep results (the model is never run).

Every figure function takes a *source*, a results root such as ``results/quick`` (one sweep folder
per experiment of :mod:`aimarket.experiments.questions`), a single sweep folder, or a :class:`Sweeps`, and
returns a :class:`Figure`: the matplotlib figure together with ``data``, the pandas DataFrame of
exactly what it drew. ``Figure.save(folder)`` writes ``<name>.pdf`` (vector) and ``<name>.png``
(300 dpi)::

    from aimarket.experiments import figures
    fig = figures.q3_governance("results/quick")
    fig.data                      # policy, threshold, measure, year, mean, lo, hi, n
    fig.save("figures/")          # figures/q3_governance.pdf and .png
    figures.draw_all("results/quick", "figures/")     # every figure whose results exist

Statistics: a band is the mean across runs (replications of one design point) and the 5th and
95th percentiles of the runs' values (numpy's linear interpolation); ``n`` counts the runs with a
value (null values, e.g. a regulated share when no usage is frontier-capable, are left out).
Style: ``experiments/aimarket.mplstyle`` (Okabe-Ito colours, TrueType fonts in PDFs).

Figures (question: name, what it shows):

- q1: ``q1_bounds`` Sutton's bounds plot: last-year HHI and CR4 of every run against
  log10(market size / sunk cost), with the lower envelope per regime and per textbook case (Sutton's
  exogenous and endogenous sunk costs, where their sweeps are in the source); ``q1_market_size`` HHI, CR4
  and surviving labs against market scale (mean and 90% band) per regime.
- q2: ``q2_cost_over_time`` cost of the cheapest human-level answer over the human wage, per task
  type; ``q2_agi_price`` cost over wage at the first human-level step, copies served at once at the
  AGI step, years from human level to a cost below the wage.
- q3: ``q3_governance`` regulated share of frontier-capable usage and evading labs over time, per
  policy and threshold.
- q4: ``q4_open_weights`` open-model gap over time and weights value share by release year.
- q5: ``q5_ida`` frontier eOOM against the data wall, HHI and regulated share, IDA off and on.
- q6: ``q6_energy`` single-site training power against inference power (energy per year over the
  hours of a year) by calendar year.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from aimarket.resources import style_file
from aimarket.simulation.errors import UserInputError
from aimarket.simulation.outputs import atomic_write

#: The publication style shipped with the package.
STYLE = style_file()  # experiments/aimarket.mplstyle, found with importlib.resources
#: Okabe-Ito colours, in the order of the style's colour cycle.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
LINESTYLES = ("-", "--", ":", "-.")
MARKERS = ("o", "s", "^", "D", "v", "P")
#: Percentiles of the band drawn around the mean (and quoted as intervals in the report).
BAND = (0.05, 0.95)
HOURS_PER_YEAR = 8766.0  # 365.25 days
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


class MissingResults(UserInputError):
    """The source holds no finished runs of the experiments a figure needs."""


# ----------------------------------------------------------------------------- sources


class Sweeps(Mapping):
    """The research-question sweeps of a results root: ``{experiment name: SweepResults}``.

    ``source``: a results root, one sweep folder, a mapping ``{experiment name: folder or
    SweepResults}``, or another :class:`Sweeps`. Folders are opened when first used.
    """

    def __init__(self, source: Any):
        from aimarket.experiments.questions import find_sweeps

        self._loaded: dict[str, Any] = {}
        if isinstance(source, Sweeps):
            self.path = source.path
            self.folders = dict(source.folders)
            self._loaded = source._loaded
            return
        if isinstance(source, Mapping):
            self.path = None
            self.folders = {}
            for name, value in source.items():
                if isinstance(value, str | os.PathLike):
                    self.folders[name] = Path(value)
                else:
                    self.folders[name] = Path(value.path)
                    self._loaded[name] = value
            return
        self.path = Path(source)
        self.folders = find_sweeps(self.path)

    def __getitem__(self, name: str):
        if name not in self.folders:
            raise KeyError(name)
        if name not in self._loaded:
            from aimarket.experiments.store import load

            self._loaded[name] = load(self.folders[name])
        return self._loaded[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.folders)

    def __len__(self) -> int:
        return len(self.folders)

    def __repr__(self) -> str:
        return f"Sweeps({str(self.path) if self.path else ''!r}, {sorted(self.folders)})"

    def require(self, *names: str) -> list[str]:
        """The experiments among ``names`` that have finished runs; MissingResults if none has."""
        present = [n for n in names if n in self.folders and len(self[n].done) > 0]
        if not present:
            where = self.path if self.path is not None else "the given sweeps"
            raise MissingResults(
                f"{where}: no finished runs of {' or '.join(names)} "
                f"(run: aimarket questions run {names[0].split('_')[0]} --out DIR)"
            )
        return present


def _sweeps(source: Any) -> Sweeps:
    return source if isinstance(source, Sweeps) else Sweeps(source)


# ----------------------------------------------------------------------------- scenario values


def base_value(manifest: dict, key: str) -> Any:
    """The value of the dotted scenario ``key`` in a sweep's resolved base scenario (items of
    the task and lab lists are addressed by name, e.g. ``tasks.reasoning.wage``)."""
    node: Any = manifest["base_scenario"]
    for part in key.split("."):
        if isinstance(node, list):
            node = next((item for item in node if isinstance(item, dict) and item.get("name") == part), None)
            if node is None:
                raise KeyError(key)
        else:
            node = node[part]
    return node


def run_value(res, key: str) -> pd.Series:
    """Per finished run (indexed by run_id): the factor column ``key`` if it is a factor of the
    sweep, else the base scenario's value."""
    design = res.design[res.design["status"] == "done"].set_index("run_id")
    if key in design.columns:
        return design[key]
    return pd.Series(base_value(res.manifest, key), index=design.index, name=key)


def factor_keys(res) -> list[str]:
    """The sweep's factors (dotted scenario keys), in file order."""
    return [f["key"] for f in res.manifest.get("experiment", {}).get("factors", [])]


def factor_levels(res, key: str, present) -> list:
    """The levels of factor ``key`` that occur in ``present``, in the order the experiment file lists them."""
    present = set(pd.Series(present).dropna())
    for f in res.manifest.get("experiment", {}).get("factors", []):
        if f["key"] == key and f.get("values") is not None:
            return [v for v in f["values"] if v in present]
    return sorted(present)


def task_names(res) -> list[str]:
    return [t["name"] for t in res.manifest["base_scenario"]["tasks"]]


def steps_per_year(res) -> int:
    return max(1, int(round(1.0 / float(base_value(res.manifest, "time.step_years")))))


_FACTOR_NAMES = {  # dotted key -> (name shown before the value, unit shown after it)
    "regulator.policy": ("", ""),
    "regulator.threshold_flop": ("threshold", ""),
    "regulator.count_ida_compute": ("IDA compute counted", ""),
    "ida.enabled": ("IDA", ""),
    "open.lag": ("open-weights lag", " steps"),
    "capability.post_wall_returns": ("post-wall returns", " eOOM/OOM"),
    "demand.market_scale": ("market scale", "x"),
}


def format_value(key: str, value: Any) -> str:
    """A factor value as shown in legends and tables."""
    if isinstance(value, bool | np.bool_):
        return "on" if value else "off"
    if key == "regulator.policy":
        return str(value).replace("_", " ")
    if key.endswith("threshold_flop"):
        mantissa, exponent = f"{float(value):.0e}".split("e")
        return f"{mantissa}e{int(exponent)} FLOP"
    if isinstance(value, float | np.floating):
        return f"{float(value):g}"
    return str(value)


def setting_label(keys: list[str], values) -> str:
    """``"IDA on, threshold 1e26 FLOP"`` for factor ``keys`` and their ``values``."""
    parts = []
    for key, value in zip(keys, values, strict=True):
        name, unit = _FACTOR_NAMES.get(key, (key, ""))
        text = format_value(key, value) + unit
        parts.append(f"{name} {text}".strip() if name else text)
    return ", ".join(parts) if parts else "all runs"


# ----------------------------------------------------------------------------- statistics


def band(df: pd.DataFrame, by: list[str], value: str) -> pd.DataFrame:
    """Mean, 5th and 95th percentile and count of ``value`` across the rows of each ``by`` group
    (rows where ``value`` is null are left out; groups without any value are dropped)."""
    d = df[list(by) + [value]].dropna(subset=[value])
    d = d.assign(**{value: d[value].astype(float)})
    if not by:
        d = d.assign(_all=0)
        by = ["_all"]
    g = d.groupby(list(by), sort=True, dropna=False)[value]
    out = pd.DataFrame(
        {"mean": g.mean(), "lo": g.quantile(BAND[0]), "hi": g.quantile(BAND[1]), "n": g.count()}
    ).reset_index()
    out["n"] = out["n"].astype("int64")
    return out.drop(columns=["_all"], errors="ignore")


def interval(values) -> dict[str, float]:
    """``{"mean", "lo", "hi", "n"}`` of the non-null ``values`` (the report's intervals)."""
    v = pd.Series(values, dtype=float).dropna().to_numpy()
    if v.size == 0:
        return {"mean": np.nan, "lo": np.nan, "hi": np.nan, "n": 0}
    return {
        "mean": float(np.mean(v)),
        "lo": float(np.quantile(v, BAND[0])),
        "hi": float(np.quantile(v, BAND[1])),
        "n": int(v.size),
    }


def last_year(ts: pd.DataFrame, spy: int) -> pd.DataFrame:
    """Rows of each run's last ``spy`` steps (its last simulated year)."""
    last = ts.groupby("run_id")["step"].transform("max")
    return ts[ts["step"] > last - spy]


def calendar_year(year: pd.Series) -> pd.Series:
    return np.floor(year.astype(float) + 1e-9).astype("int64")


# ----------------------------------------------------------------------------- the Figure


@dataclass
class Figure:
    """A drawn figure and the data it shows.

    name: file stem (``q3_governance``); question: ``q1``..``q6``; title and caption: text for the
    report; fig: the matplotlib Figure; data: a DataFrame of exactly what was drawn; sources: the
    sweep folders it came from.
    """

    name: str
    question: str
    title: str
    caption: str
    fig: Any
    data: pd.DataFrame
    sources: dict[str, str] = field(default_factory=dict)

    def save(self, folder: str | Path, formats: tuple[str, ...] = ("pdf", "png"), dpi: int = 300) -> list[Path]:
        """Write ``folder/<name>.<format>`` for each format (atomically); returns the paths."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for fmt in formats:
            paths.append(atomic_write(folder / f"{self.name}.{fmt}",
                                      lambda tmp, fmt=fmt: self._savefig_to(tmp, fmt, dpi)))
        return paths

    def _savefig_to(self, path: Path, fmt: str, dpi: int) -> None:
        with open(path, "wb") as fh:
            self._savefig(fh, fmt, dpi)

    def png_bytes(self, dpi: int = 150) -> bytes:
        buf = io.BytesIO()
        self._savefig(buf, "png", dpi)
        return buf.getvalue()

    def _savefig(self, fh, fmt: str, dpi: int) -> None:
        metadata = {"pdf": {"Creator": "aimarket", "Producer": None, "CreationDate": None},
                    "png": {"Software": None}}.get(fmt)
        with style():
            self.fig.savefig(fh, format=fmt, dpi=dpi, bbox_inches="tight", metadata=metadata)

    def _repr_png_(self) -> bytes:  # shown inline by Jupyter
        return self.png_bytes(dpi=110)

    def close(self) -> None:
        self.fig.clear()


@contextmanager
def style():
    """The aimarket publication style as a matplotlib rc context."""
    import matplotlib.style

    with matplotlib.style.context(STYLE):
        yield


def _new_figure(ncols: int = 1, nrows: int = 1, width: float = 6.5, height: float = 2.6, **kw):
    from matplotlib.figure import Figure as MplFigure

    fig = MplFigure(figsize=(width, height * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    return fig, axes


def count_text(n) -> str:
    """``"n = 4"`` or ``"n = 2-4"``: the runs behind each point of a line (the legend's n)."""
    n = pd.Series(n).dropna()
    low, high = (int(n.min()), int(n.max())) if len(n) else (0, 0)
    return f"n = {low}" if low == high else f"n = {low}-{high}"


def _draw_band(ax, d: pd.DataFrame, x: str, *, color, label=None, linestyle="-", marker=None) -> None:
    """The mean as a line and the 5-95% band around it; the legend label ends with the runs per point."""
    d = d.sort_values(x)
    if label is not None and "n" in d:
        label = f"{label} ({count_text(d['n'])})"
    ax.fill_between(d[x], d["lo"], d["hi"], color=color, alpha=0.18, linewidth=0)
    ax.plot(d[x], d["mean"], color=color, linestyle=linestyle, marker=marker, label=label)


def _year_axis(ax) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=6))
    ax.set_xlabel("time (calendar year)")


def _legend(fig, ax, ncols: int | None = None) -> None:
    """One legend for the figure, below the panels, from the handles of ``ax``."""
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="outside lower center", ncols=ncols or min(len(handles), 4))


def _sources(sw: Sweeps, names) -> dict[str, str]:
    return {n: str(sw.folders[n]) for n in names}


def _settings(res, exclude: tuple[str, ...] = ()) -> list[str]:
    return [k for k in factor_keys(res) if k not in exclude]


def _grouped(d: pd.DataFrame, keys: list[str]):
    """(label, sub-frame) per setting of ``keys`` (one group with label 'all runs' if none)."""
    if not keys:
        yield setting_label([], []), d
        return
    for values, sub in d.groupby(keys, sort=True):
        values = values if isinstance(values, tuple) else (values,)
        yield setting_label(keys, values), sub


# ----------------------------------------------------------------------------- Q1


def q1_runs(source, series: dict[str, str] = REGIMES) -> pd.DataFrame:
    """One row per finished run of the sweeps named in ``series`` (``{experiment: label}``; default
    Q1's two regimes): regime (the label), run_id, replication, market scale, market size S [$ per
    year], sunk cost sigma [$], log10(S / sigma), last-year mean HHI and CR4, surviving labs at the
    last step.

    S is the potential market: the tasks of one year at step 0 times the median value of a successful
    task, summed over task types, times ``demand.market_scale``. sigma is the setup cost an entrant
    sinks (``entry.cost``). Both come from each run's scenario, so ``S / sigma`` is exogenous.
    """
    sw = _sweeps(source)
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
    sw = _sweeps(source)
    cases = {n: label for n, label in TEXTBOOK.items() if n in sw.folders and len(sw[n].done) > 0}
    runs = pd.concat([q1_runs(sw)] + ([q1_runs(sw, cases)] if cases else []), ignore_index=True)
    for measure in ("hhi", "cr4"):
        runs[f"{measure}_envelope"] = runs.groupby(["regime", "market_scale"])[measure].transform("min")
    with style():
        fig, axes = _new_figure(2, width=7.0, height=2.9)
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
        _legend(fig, axes[0][0], ncols=2)
    caption = ("Sutton's bounds plot. Dots: one run each (mean over its last simulated year); lines: lower "
               "envelope (minimum over runs) per regime, dashed for Sutton's textbook cases (their own "
               "stylised scenarios, docs/ODD.md §8.2). Market size S: one year of tasks at the median "
               "value of a successful task, times the market scale; sunk cost sigma: the entry cost.")
    return Figure("q1_bounds", "q1", "Concentration against market size over sunk cost", caption, fig, runs,
                  _sources(sw, [n for n in [*REGIMES, *cases] if n in sw.folders]))


def q1_market_size(source) -> Figure:
    """Last-year HHI, CR4 and surviving labs against market scale: mean and 90% band per regime."""
    sw = _sweeps(source)
    runs = q1_runs(sw)
    long = runs.melt(id_vars=["regime", "run_id", "market_scale"], value_vars=["hhi", "cr4", "n_labs"],
                     var_name="measure", value_name="value")
    data = band(long, ["regime", "measure", "market_scale"], "value")
    ylabels = {"hhi": "HHI of revenue shares (0-1)", "cr4": "CR4, revenue share of top 4 (0-1)",
               "n_labs": "surviving labs (count)"}
    with style():
        fig, axes = _new_figure(3, height=2.5)
        for ax, (measure, ylabel), letter in zip(axes[0], ylabels.items(), "abc", strict=True):
            for i, regime in enumerate(REGIMES.values()):
                d = data[(data["regime"] == regime) & (data["measure"] == measure)]
                if not d.empty:
                    _draw_band(ax, d, "market_scale", color=PALETTE[i], marker=MARKERS[i], label=regime)
            ax.set_xscale("log")
            ax.set_xlabel("market scale (x default demand)")
            ax.set_ylabel(ylabel)
            ax.set_title(f"{letter}  " + {"hhi": "HHI", "cr4": "CR4", "n_labs": "Surviving labs"}[measure])
            ax.set_ylim(bottom=0)
        _legend(fig, axes[0][0])
    caption = ("Concentration and the number of labs at the end of the run against market size (mean over "
               "replications with a 5-95% band), pre-training-dominated versus inference-dominated regime.")
    return Figure("q1_market_size", "q1", "Concentration and surviving labs by market size", caption, fig,
                  data, _sources(sw, [n for n in REGIMES if n in sw.folders]))


# ----------------------------------------------------------------------------- Q2

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
    sw = _sweeps(source)
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
    sw = _sweeps(source)
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
        fig, axes = _new_figure(len(tasks), height=2.5, sharey=True)
        for ax, task, letter in zip(axes[0], tasks, "abcdefgh", strict=False):
            d = data[data["task"] == task]
            for i, (label, sub) in enumerate(_grouped(d, keys)):
                _draw_band(ax, sub, "year", color=PALETTE[i], linestyle=LINESTYLES[0], label=label)
            ax.axhline(1.0, color="0.3", linewidth=0.8, linestyle="--", label="human wage")
            ax.set_yscale("log")
            _year_axis(ax)
            ax.set_title(f"{letter}  {task}")
        axes[0][0].set_ylabel("cost per task / human wage (ratio)")
        _legend(fig, axes[0][0])
    caption = ("Marginal cost of the cheapest offer that reaches human level on each task type, over the "
               "human wage for the task (mean over replications with a 5-95% band; gaps: no system at "
               "human level yet). Below the dashed line AI is cheaper than a human.")
    return Figure("q2_cost_over_time", "q2", "Cost of a human-level answer over the wage", caption, fig, data,
                  _sources(sw, [_Q2]))


def q2_agi_price(source) -> Figure:
    """Per task type: cost over wage at the first human-level step, copies served at once at the AGI
    step and years from human level to a cost below the wage (mean, 5-95% interval)."""
    sw = _sweeps(source)
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
        fig, axes = _new_figure(3, height=2.5)
        groups = list(_grouped(data, keys))
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
            _legend(fig, axes[0][0])
    caption = ("The price of AGI, per task type (mean over replications, bars 5-95%). a: cost of the "
               "cheapest human-level offer over the human wage at the first step any system reaches human "
               "level (step 0 if it already does). b: copies of the frontier model its training fleet serves "
               "at once at the first step every task type is at human level. c: years from human level "
               "until the cost falls below the wage, over the runs where it did (labels: runs/total).")
    return Figure("q2_agi_price", "q2", "The price of AGI", caption, fig, data, _sources(sw, [_Q2]))


# ----------------------------------------------------------------------------- Q3

_Q3 = "q3_governance"


def q3_governance(source) -> Figure:
    """Regulated share of frontier-capable usage and evading labs over time: one column per policy,
    one line per threshold (and per any other factor)."""
    sw = _sweeps(source)
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
        fig, axes = _new_figure(len(columns), nrows=2, height=2.3, width=max(6.5, 2.4 * len(columns)),
                                sharex=True, sharey="row")
        for j, column in enumerate(columns):
            for r, (measure, ylabel) in enumerate(rows.items()):
                ax = axes[r][j]
                d = data[data["measure"] == measure]
                if col_key:
                    d = d[d[col_key] == column]
                for i, (label, sub) in enumerate(_grouped(d, line_keys)):
                    _draw_band(ax, sub, "year", color=PALETTE[i], linestyle=LINESTYLES[i % 4], label=label)
                if r == 0:
                    ax.set_ylim(-0.02, 1.02)
                    title = format_value("regulator.policy", column) if col_key else "all runs"
                    ax.set_title(f"{'abcdefgh'[j]}  {title}")
                if j == 0:
                    ax.set_ylabel(ylabel)
                if r == 1:
                    _year_axis(ax)
        _legend(fig, axes[0][0])
    caption = ("Governance by thresholds (mean over replications with a 5-95% band). Top: share of "
               "frontier-capable usage (tasks served at a deployed capability of at least log10(threshold) "
               "eOOM) served by regulated models; one minus it escapes regulation. Bottom: labs serving at "
               "that capability with an unregulated model.")
    return Figure("q3_governance", "q3", "Regulated share and evading labs by policy and threshold", caption, fig,
                  data, _sources(sw, [_Q3]))


# ----------------------------------------------------------------------------- Q4

_Q4 = "q4_open_weights"


def q4_models(source) -> pd.DataFrame:
    """One row per released model of every finished Q4 run (from summary.json's ``models``): the
    factor columns, run_id, model, lab, open_weights, release_step, release_year (calendar year of
    release), training_cost [$], lifetime_inference_spend [$] and weights_value_share (training cost
    over lifetime inference spend; null when the model served nothing)."""
    from aimarket.experiments.store import read_summary

    sw = _sweeps(source)
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
    sw = _sweeps(source)
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
        fig, axes = _new_figure(2, height=2.7)
        for i, (label, sub) in enumerate(_grouped(data, keys)):
            _draw_band(axes[0][0], sub[sub["measure"] == "open_gap_eoom"], "year", color=PALETTE[i], label=label)
            _draw_band(axes[0][1], sub[sub["measure"] == "weights_value_share"], "year", color=PALETTE[i],
                       marker=MARKERS[i], label=label)
        axes[0][0].set_ylabel("open-model gap to the frontier (eOOM)")
        axes[0][0].set_title("a  Open-model gap")
        axes[0][1].set_ylabel("training cost /\nlifetime inference spend (ratio)")
        axes[0][1].set_yscale("log")
        axes[0][1].axhline(1.0, color="0.3", linewidth=0.8, linestyle="--")
        axes[0][1].set_title("b  Weights value share")
        for ax in axes[0]:
            _year_axis(ax)
        axes[0][1].set_xlabel("release date (calendar year)")
        _legend(fig, axes[0][0])
    caption = ("Open weights (mean over replications with a 5-95% band). a: pre-training capability of the "
               "frontier model minus that of the best open-weight model. b: value of a model's weights (its "
               "training cost) over its lifetime inference spend, by year of release; below the dashed line "
               "inference dominates a model's lifetime cost. Recent models have served only part of their "
               "lifetime, which inflates their ratio.")
    return Figure("q4_open_weights", "q4", "Open-model gap and the value of weights", caption, fig, data,
                  _sources(sw, [_Q4]))


# ----------------------------------------------------------------------------- Q5

_Q5 = "q5_ida"


def q5_ida(source) -> Figure:
    """Frontier pre-training eOOM (against the data wall), HHI and regulated share over time, per IDA
    setting."""
    sw = _sweeps(source)
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
        fig, axes = _new_figure(3, height=2.6)
        for ax, (measure, (ylabel, title)) in zip(axes[0], measures.items(), strict=True):
            for i, (label, sub) in enumerate(_grouped(data[data["measure"] == measure], keys)):
                _draw_band(ax, sub, "year", color=PALETTE[i], linestyle=LINESTYLES[i % 4], label=label)
            ax.set_ylabel(ylabel)
            ax.set_title(title)
            _year_axis(ax)
        for wall in walls:
            axes[0][0].axhline(wall, color="0.3", linewidth=0.8, linestyle="--",
                               label=f"data wall ({wall:g} log10 raw FLOP)")
        axes[0][2].set_ylim(-0.02, 1.02)
        axes[0][1].set_ylim(bottom=0)
        _legend(fig, axes[0][0])
    caption = ("Inference during training (mean over replications with a 5-95% band). a: pre-training "
               "capability of the frontier model, including the IDA gain, against the data wall (dashed). "
               "b: HHI. c: share of frontier-capable usage served by regulated models under the "
               "training-compute threshold.")
    return Figure("q5_ida", "q5", "IDA: frontier capability past the data wall, concentration, regulation",
                  caption, fig, data, _sources(sw, [_Q5]))


# ----------------------------------------------------------------------------- Q6

_Q6 = "q6_energy"


def q6_years(source) -> pd.DataFrame:
    """One row per finished Q6 run x complete calendar year: the factor columns, year, the largest
    single-site training power of the year [MW] (max over its steps), inference energy of the year
    [MWh] and its average power [MW] (energy over the hours of the year)."""
    sw = _sweeps(source)
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
    sw = _sweeps(source)
    years = q6_years(sw)
    res = sw[_Q6]
    keys = factor_keys(res)
    long = years.melt(id_vars=["run_id", *keys, "year"], value_vars=["training_site_power_mw", "inference_power_mw"],
                      var_name="measure", value_name="value")
    data = band(long, [*keys, "measure", "year"], "value")
    groups = list(_grouped(data, keys))
    names = {"training_site_power_mw": "largest single training site", "inference_power_mw": "all inference (average)"}
    with style():
        fig, axes = _new_figure(len(groups), height=2.7, width=max(6.5, 3.2 * len(groups)), sharey=True)
        for j, (label, sub) in enumerate(groups):
            ax = axes[0][j]
            for i, (measure, name) in enumerate(names.items()):
                d = sub[(sub["measure"] == measure) & (sub["mean"] > 0)]
                _draw_band(ax, d, "year", color=PALETTE[i], marker=MARKERS[i], label=name)
            ax.set_yscale("log")
            _year_axis(ax)
            ax.set_title(f"{'abcdefgh'[j]}  {label}")
        axes[0][0].set_ylabel("electric power (MW)")
        _legend(fig, axes[0][0])
    caption = ("Data centres and energy (mean over replications with a 5-95% band), per calendar year. "
               "Largest single training site: the highest power any one training run draws that year. All "
               "inference: the year's inference energy divided by the hours in a year, i.e. its average "
               "power, spread over many sites.")
    return Figure("q6_energy", "q6", "Single-site training power against inference energy", caption, fig, data,
                  _sources(sw, [_Q6]))


# ----------------------------------------------------------------------------- all figures

#: Figure functions per question, in report order.
FIGURES: dict[str, tuple[Callable[[Any], Figure], ...]] = {
    "q1": (q1_bounds, q1_market_size),
    "q2": (q2_cost_over_time, q2_agi_price),
    "q3": (q3_governance,),
    "q4": (q4_open_weights,),
    "q5": (q5_ida,),
    "q6": (q6_energy,),
}


def question_figures(question: str, source) -> list[Figure]:
    """Every figure of ``question`` (``q1``..``q6``); MissingResults if its results are absent."""
    from aimarket.experiments.questions import get

    return [fn(source) for fn in FIGURES[get(question).id]]


def draw_all(source, out: str | Path, *, formats: tuple[str, ...] = ("pdf", "png"), dpi: int = 300,
             questions: list[str] | None = None) -> dict[str, list[Path]]:
    """Draw every figure whose results are in ``source`` into ``out``; returns ``{figure name:
    [paths]}``. Also writes ``<name>.csv`` next to each figure with its data. Raises
    :class:`MissingResults` if no question has results."""
    from aimarket.experiments.questions import get

    sw = _sweeps(source)
    wanted = [get(q).id for q in questions] if questions else list(FIGURES)
    written: dict[str, list[Path]] = {}
    for qid in wanted:
        for fn in FIGURES[qid]:
            try:
                figure = fn(sw)
            except MissingResults:
                break
            paths = figure.save(out, formats=formats, dpi=dpi)
            paths.append(_write_csv(figure, Path(out)))
            written[figure.name] = paths
            figure.close()
    if not written:
        where = sw.path if sw.path is not None else "the given sweeps"
        raise MissingResults(
            f"{where}: no results of the research questions (expected sweep folders of "
            "experiments/questions/*.toml, e.g. from: aimarket questions run all --size quick --out DIR)"
        )
    return written


def _write_csv(figure: Figure, folder: Path) -> Path:
    return atomic_write(folder / f"{figure.name}.csv", lambda tmp: figure.data.to_csv(tmp, index=False))


__all__ = [
    "Figure",
    "Sweeps",
    "MissingResults",
    "FIGURES",
    "STYLE",
    "PALETTE",
    "BAND",
    "band",
    "interval",
    "style",
    "draw_all",
    "question_figures",
    "q1_runs",
    "q1_bounds",
    "q1_market_size",
    "q2_runs",
    "q2_cost_over_time",
    "q2_agi_price",
    "q3_governance",
    "q4_models",
    "q4_open_weights",
    "q5_ida",
    "q6_years",
    "q6_energy",
]
