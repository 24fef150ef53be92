"""``overview.png``: one glance at a run (HHI, prices, shares, capability, k, consumer surplus).

Drawn in the aimarket publication style (``experiments/aimarket.mplstyle``). Lines that can coincide
(HHI and CR4 of a duopoly, the frontier of task types at equal capability) differ in width, dash and
marker, wider ones drawn first, so none hides another. Revenue shares name the labs with the most
revenue over the run (at most :data:`NAMED_LABS`) and group the rest, so the legend stays readable
with any number of labs; lab names are plain text, never mathtext.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.style  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

#: Labs named in the revenue-share panel; the others are drawn as one area.
NAMED_LABS = 7
#: Okabe-Ito colours (as in the style's cycle) and distinct dashes and markers per line.
_COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
_DASHES = ("-", "--", ":", "-.")
_MARKERS = ("o", "s", "^", "D", "v", "P")
_OTHERS = "#BBBBBB"


def _style_file():
    # the publication style ships with the experiments package (a file read here, not code imported)
    return files("aimarket.experiments").joinpath("aimarket.mplstyle")


def _lines(ax, year, series: dict[str, np.ndarray], colours=_COLOURS) -> None:
    """Lines told apart by colour, dash, marker and width; the widest first, so a line drawn on top of
    an equal one leaves it visible around it."""
    n = len(series)
    every = max(1, len(year) // 8)
    for i, (label, values) in enumerate(series.items()):
        ax.plot(year, values, label=label, color=colours[i % len(colours)], linestyle=_DASHES[i % 4],
                linewidth=1.0 + 1.4 * (n - 1 - i) / max(n - 1, 1), marker=_MARKERS[i % 6],
                markevery=(i % every, every), markersize=3.5, zorder=2 + i)


def _plain_legend(ax, **kwargs) -> None:
    legend = ax.legend(**kwargs)
    for text in legend.get_texts():
        text.set_parse_math(False)


def revenue_shares(labs: dict, steps: np.ndarray, named: int = NAMED_LABS) -> dict[str, np.ndarray]:
    """Revenue share per step of the ``named`` labs with the most revenue over the run (in that order)
    and of all other labs together (``"other labs (n)"``). ``labs``: the labs table as a dict of
    columns; lab-level revenue is taken once per (step, lab)."""
    revenue: dict[str, np.ndarray] = {}
    seen = set()
    for step, lab, name, rev in zip(labs["step"], labs["lab"], labs["name"], labs["lab_revenue"], strict=True):
        if (step, lab) in seen:
            continue
        seen.add((step, lab))
        revenue.setdefault(name, np.zeros(steps.size))[step - steps[0]] += rev
    total = np.sum(list(revenue.values()), axis=0) if revenue else np.zeros(steps.size)
    total = np.where(total > 0, total, np.nan)
    order = sorted(revenue, key=lambda n: -float(np.sum(revenue[n])))
    shares = {n: revenue[n] / total for n in order[:named]}
    rest = order[named:]
    if rest:
        shares[f"other labs ({len(rest)})"] = np.sum([revenue[n] for n in rest], axis=0) / total
    return shares


def draw_overview(result, path: Path) -> None:
    """Draw the overview of ``result`` into the PNG file ``path``. Lab names are drawn as plain text
    (never parsed as mathtext, so a name such as ``$\\notacommand{x}$`` cannot fail the drawing), while
    axis tick labels keep matplotlib's mathtext (the powers of ten of the log axes)."""
    _draw(result, path)


def _draw(result, path: Path) -> None:
    ts = result.timeseries.to_pydict()
    labs = result.labs.to_pydict()
    tasks = result.scenario.task_names
    year = np.asarray(ts["year"])

    def column(name):
        return np.array([np.nan if v is None else v for v in ts[name]], dtype=float)

    with matplotlib.style.context(str(_style_file())):
        fig, axes = plt.subplots(2, 3, figsize=(13, 7), layout="constrained")
        ax = axes[0, 0]
        _lines(ax, year, {"HHI": column("hhi"), "CR4": column("cr4")})
        ax.set(title="a  Concentration (revenue)", xlabel="year", ylabel="index (0-1)", ylim=(0, 1.05))
        ax.legend()
        ax = axes[0, 1]
        _lines(ax, year, {t: column(f"price_{t}") for t in tasks})
        ax.set(title="b  Usage-weighted price", xlabel="year", ylabel="USD per task", yscale="log")
        ax.legend()
        ax = axes[0, 2]
        shares = revenue_shares(labs, np.asarray(ts["step"]))
        colours = [_OTHERS if n.startswith("other labs") else _COLOURS[i % len(_COLOURS)]
                   for i, n in enumerate(shares)]
        ax.stackplot(year, *[np.nan_to_num(v) for v in shares.values()], labels=list(shares), colors=colours,
                     edgecolor="white", linewidth=0.4)
        ax.set(title="c  Revenue shares", xlabel="year", ylabel="share of lab revenue (0-1)", ylim=(0, 1))
        _plain_legend(ax, loc="upper left", bbox_to_anchor=(1.0, 1.0), title="largest labs")
        ax = axes[1, 0]
        _lines(ax, year, {"pre-training frontier": column("frontier_eoom"),
                          **{f"deployed, {t}": column(f"frontier_eoom_{t}") for t in tasks}},
               colours=("#000000", *_COLOURS))
        ax.set(title="d  Frontier capability", xlabel="year", ylabel="eOOM (log10 effective FLOP)")
        ax.legend()
        ax = axes[1, 1]
        _lines(ax, year, {t: column(f"k_{t}") for t in tasks})
        ax.set(title="e  Inference multiplier (usage-weighted)", xlabel="year", ylabel="k (x base compute)",
               yscale="log")
        ax.legend()
        ax = axes[1, 2]
        _lines(ax, year, {"consumer surplus": column("consumer_surplus") / 1e9})
        ax.set(title="f  Consumer surplus", xlabel="year", ylabel="USD billion per step")
        fig.suptitle(f"aimarket run, seed {result.seed}", x=0.01, ha="left", fontweight="bold")
        for ax in axes.flat:  # a few calendar years on the time axis, however short the run
            ax.xaxis.set_major_locator(MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10]))
        fig.savefig(path, dpi=110, format="png", metadata={"Software": None})
    plt.close(fig)
