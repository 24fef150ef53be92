"""The building blocks of every figure drawn from stored sweep results (the model is never run).

A figure is a :class:`Figure`: the matplotlib figure together with ``data``, the pandas DataFrame of
exactly what it drew. ``Figure.save(folder)`` writes ``<name>.pdf`` (vector) and ``<name>.png`` (300 dpi).
This module holds what the figures of the research questions (:mod:`aimarket.experiments.questions.paper_figures`)
and ``aimarket plot`` (:mod:`aimarket.experiments.analysis.plot`) share: values of a sweep's scenario and
factors, labels, the statistics of a band and the drawing helpers.

Statistics: a band is the mean across runs (replications of one design point) and the 5th and
95th percentiles of the runs' values (numpy's linear interpolation); ``n`` counts the runs with a
value (null values, e.g. a regulated share when no usage is frontier-capable, are left out).
Style: :mod:`aimarket.experiments.analysis.style`.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from aimarket.experiments.analysis.style import LINESTYLES, MARKERS, PALETTE, STYLE, style
from aimarket.simulation.errors import UserInputError
from aimarket.simulation.outputs import atomic_write

#: Percentiles of the band drawn around the mean (and quoted as intervals in the report).
BAND = (0.05, 0.95)
HOURS_PER_YEAR = 8766.0  # 365.25 days


class MissingResults(UserInputError):
    """The source holds no finished runs of the experiments a figure needs."""


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


FACTOR_NAMES = {  # dotted key -> (name shown before the value, unit shown after it)
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
        name, unit = FACTOR_NAMES.get(key, (key, ""))
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


def new_figure(ncols: int = 1, nrows: int = 1, width: float = 6.5, height: float = 2.6, **kw):
    from matplotlib.figure import Figure as MplFigure

    fig = MplFigure(figsize=(width, height * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    return fig, axes


def count_text(n) -> str:
    """``"n = 4"`` or ``"n = 2-4"``: the runs behind each point of a line (the legend's n)."""
    n = pd.Series(n).dropna()
    low, high = (int(n.min()), int(n.max())) if len(n) else (0, 0)
    return f"n = {low}" if low == high else f"n = {low}-{high}"


def draw_band(ax, d: pd.DataFrame, x: str, *, color, label=None, linestyle="-", marker=None) -> None:
    """The mean as a line and the 5-95% band around it; the legend label ends with the runs per point."""
    d = d.sort_values(x)
    if label is not None and "n" in d:
        label = f"{label} ({count_text(d['n'])})"
    ax.fill_between(d[x], d["lo"], d["hi"], color=color, alpha=0.18, linewidth=0)
    ax.plot(d[x], d["mean"], color=color, linestyle=linestyle, marker=marker, label=label)


def year_axis(ax) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=6))
    ax.set_xlabel("time (calendar year)")


def legend(fig, ax, ncols: int | None = None) -> None:
    """One legend for the figure, below the panels, from the handles of ``ax``."""
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="outside lower center", ncols=ncols or min(len(handles), 4))



def grouped(d: pd.DataFrame, keys: list[str]):
    """(label, sub-frame) per setting of ``keys`` (one group with label 'all runs' if none)."""
    if not keys:
        yield setting_label([], []), d
        return
    for values, sub in d.groupby(keys, sort=True):
        values = values if isinstance(values, tuple) else (values,)
        yield setting_label(keys, values), sub


__all__ = [
    "Figure", "MissingResults", "BAND", "HOURS_PER_YEAR", "STYLE", "PALETTE", "LINESTYLES", "MARKERS", "style",
    "base_value", "run_value", "factor_keys", "factor_levels", "task_names", "steps_per_year", "FACTOR_NAMES",
    "format_value", "setting_label", "band", "interval", "last_year", "calendar_year", "new_figure", "count_text",
    "draw_band", "year_axis", "legend", "grouped",
]
