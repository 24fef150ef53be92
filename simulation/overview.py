"""``overview.png``: one glance at a run (HHI, prices, shares, capability, k, consumer surplus)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def draw_overview(result, path: Path) -> None:
    """Draw the overview of ``result`` into the PNG file ``path``. Lab and task names are drawn as plain
    text (never parsed as mathtext, so a name such as ``$\\notacommand{x}$`` cannot fail the drawing)."""
    with matplotlib.rc_context({"text.parse_math": False}):
        _draw(result, path)


def _draw(result, path: Path) -> None:
    ts = result.timeseries.to_pydict()
    labs = result.labs.to_pydict()
    tasks = result.scenario.task_names
    year = np.asarray(ts["year"])

    def column(name):
        return np.array([np.nan if v is None else v for v in ts[name]], dtype=float)

    fig, axes = plt.subplots(2, 3, figsize=(15, 8), constrained_layout=True)
    ax = axes[0, 0]
    ax.plot(year, column("hhi"), label="HHI")
    ax.plot(year, column("cr4"), label="CR4", linestyle="--")
    ax.set(title="Concentration (revenue)", xlabel="year", ylabel="index (0-1)", ylim=(0, 1.05))
    ax.legend()
    ax = axes[0, 1]
    for t in tasks:
        ax.plot(year, column(f"price_{t}"), label=t)
    ax.set(title="Usage-weighted price", xlabel="year", ylabel="$ per task", yscale="log")
    ax.legend()
    ax = axes[0, 2]
    names = sorted(set(labs["name"]))
    steps = np.asarray(ts["step"])
    revenue = {n: np.zeros(steps.size) for n in names}
    for step, name, rev in zip(labs["step"], labs["name"], labs["revenue"], strict=True):
        revenue[name][step - steps[0]] += rev
    total = np.maximum(sum(revenue.values()), 1e-300)
    colours = plt.get_cmap("tab20")(np.arange(len(names)) % 20)
    ax.stackplot(year, *[revenue[n] / total for n in names], labels=names, colors=colours)
    ax.set(title="Revenue shares", xlabel="year", ylabel="share of lab revenue", ylim=(0, 1))
    ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    ax = axes[1, 0]
    ax.plot(year, column("frontier_eoom"), color="black", label="pre-training frontier")
    for t in tasks:
        ax.plot(year, column(f"frontier_eoom_{t}"), label=f"deployed, {t}")
    ax.set(title="Frontier capability", xlabel="year", ylabel="eOOM (log10 effective FLOP)")
    ax.legend(fontsize=8)
    ax = axes[1, 1]
    for t in tasks:
        ax.plot(year, column(f"k_{t}"), label=t)
    ax.set(title="Inference multiplier (usage-weighted)", xlabel="year", ylabel="k (x base compute)",
           yscale="log")
    ax.legend()
    ax = axes[1, 2]
    ax.plot(year, column("consumer_surplus") / 1e9)
    ax.set(title="Consumer surplus", xlabel="year", ylabel="$ billion per step")
    fig.suptitle(f"aimarket run, seed {result.seed}")
    fig.savefig(path, dpi=100, format="png", metadata={"Software": None})
    plt.close(fig)
