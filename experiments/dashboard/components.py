"""The dashboard's plots and read-outs (Solara components) in the aimarket publication style.

Mesa's own plot component (:func:`mesa.visualization.make_plot_component`) draws the series that fit
one axis (prices, frontier capability with the regulation line, inference share); custom components
draw what it cannot: two quantities on two axes (HHI and labs; regulated share and evading labs),
revenue shares by lab (the largest labs named, the rest grouped) and the table of the latest values.
Every component is a function of the model, re-drawn by SolaraViz after each step. The style is set
once for the server process (:mod:`aimarket.experiments.dashboard.app`): components render in several threads
at once, so they never switch matplotlib's global style themselves.
"""

from __future__ import annotations

import html
import math

import solara
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from mesa.visualization import make_plot_component

from aimarket.experiments.analysis.style import LINESTYLES, PALETTE
from aimarket.experiments.dashboard.model import DashboardModel

#: Series whose latest values the read-out table shows, with their units.
READOUT_UNITS = {"HHI": "0-1", "labs": "labs", "inference share": "0-1", "regulated share": "0-1",
                 "evading labs": "labs", "pre-training frontier": "eOOM"}


def _figure(title: str, ylabel: str):
    fig = Figure(figsize=(5.2, 3.0), layout="constrained")
    ax = fig.subplots()
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.set_xlabel("step")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return fig, ax


def _waiting(model: DashboardModel, title: str):
    text = model.error or "Press Step or ▶ to simulate."
    return solara.Card(title, children=[solara.Text(text)])


def _two_axes(model: DashboardModel, title: str, left: tuple[str, str], right: tuple[str, str],
              left_limits: tuple[float, float] | None = None):
    """``left`` and ``right``: (series, axis label); two lines, one per axis, told apart by style."""
    if model.steps_done == 0:
        return _waiting(model, title)
    df = model.datacollector.get_model_vars_dataframe()
    fig, ax = _figure(title, left[1])
    ax.plot(df.index, df[left[0]], color=PALETTE[0], label=left[0], marker="o", markevery=4)
    if left_limits:
        ax.set_ylim(*left_limits)
    twin = ax.twinx()
    twin.plot(df.index, df[right[0]], color=PALETTE[1], linestyle="--", label=right[0])
    twin.set_ylabel(right[1])
    twin.set_ylim(bottom=0)
    twin.grid(False)
    twin.spines["right"].set_visible(True)
    handles = ax.get_legend_handles_labels()[0] + twin.get_legend_handles_labels()[0]
    ax.legend(handles=handles, loc="upper left", fontsize="small")
    return solara.FigureMatplotlib(fig, format="png", dpi=110)


def concentration(model: DashboardModel):
    """HHI of revenue shares (left) and labs alive (right)."""
    return _two_axes(model, "Concentration", ("HHI", "HHI of revenue shares (0-1)"), ("labs", "labs alive"),
                     (0, 1.02))


def regulation(model: DashboardModel):
    """Regulated share of frontier-capable usage (left) and evading labs (right)."""
    return _two_axes(model, "Regulation", ("regulated share", "regulated share of frontier-capable usage"),
                     ("evading labs", "evading labs"), (-0.02, 1.02))


def lab_shares(model: DashboardModel):
    """Revenue share of each of the largest labs and of the other labs together."""
    title = "Market shares by lab"
    if model.steps_done == 0:
        return _waiting(model, title)
    shares = model.grouped_lab_shares()
    steps = list(range(model.steps_done))
    fig, ax = _figure(title, "share of lab revenue (0-1)")
    for i, (name, values) in enumerate(shares.items()):
        grouped = name.startswith("other labs")
        ax.plot(steps, values, label=name, color="0.45" if grouped else PALETTE[i % len(PALETTE)],
                linestyle=LINESTYLES[i % len(LINESTYLES)], linewidth=2.2 - 0.2 * i)
    ax.set_ylim(0, 1.02)
    legend = ax.legend(loc="upper left", fontsize="small", ncols=2)
    for text in legend.get_texts():  # lab names are plain text, never mathtext
        text.set_parse_math(False)
    return solara.FigureMatplotlib(fig, format="png", dpi=110)


def _after_first_step(component):
    """Mesa's plot component, shown once the model has a step to plot."""
    make, page = component

    def shown(model: DashboardModel):
        if model.steps_done == 0:
            return _waiting(model, "")
        return make(model)

    return shown, page


def _styled(title: str, ylabel: str, log: bool = False, limits=None, dashed: tuple[str, ...] = ()):
    def post_process(ax):
        ax.set_title(title)
        ax.set_ylabel(ylabel)
        if log:
            ax.set_yscale("log")
        if limits:
            ax.set_ylim(*limits)
        for line in ax.get_lines():
            if line.get_label() in dashed:
                line.set_linestyle("--")
                line.set_color("0.3")
        ax.legend(loc="best", fontsize="small")
    return post_process


def prices(tasks: list[str]):
    """Usage-weighted price per task type (Mesa's plot component, log scale)."""
    measure = {f"price, {t}": PALETTE[i % len(PALETTE)] for i, t in enumerate(tasks)}
    return _after_first_step(make_plot_component(measure, post_process=_styled(
        "Price per task type", "USD per task (usage-weighted)", log=True)))


def frontier(tasks: list[str]):
    """Deployed frontier capability per task type, the pre-training frontier and the regulation line."""
    measure = {f"frontier, {t}": PALETTE[i % len(PALETTE)] for i, t in enumerate(tasks)}
    measure["pre-training frontier"] = PALETTE[6]
    measure["regulation line"] = "#555555"
    return _after_first_step(make_plot_component(measure, post_process=_styled(
        "Frontier capability", "eOOM (log10 effective FLOP)", dashed=("regulation line",))))


def inference_share():
    """Inference spend over training plus inference spend."""
    return _after_first_step(make_plot_component({"inference share": PALETTE[2]}, post_process=_styled(
        "Inference share of compute spend", "share (0-1)", limits=(0, 1.02))))


def _format(value) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{float(value):.6g}"


def readout(model: DashboardModel):
    """The latest step's values of every plotted series (what the plots show at their right end)."""
    title = "Latest values"
    if model.steps_done == 0:
        return _waiting(model, title)
    latest = model.datacollector.get_model_vars_dataframe().iloc[-1]
    names = [*READOUT_UNITS, *(n for n in model.series if n not in READOUT_UNITS), "regulation line"]
    rows = [f"<tr><th>step</th><td data-series='step'>{int(latest['step'])}</td><td>year "
            f"{latest['year']:.2f}</td></tr>"]
    for name in names:
        unit = READOUT_UNITS.get(name, "USD/task" if name.startswith("price") else "eOOM")
        rows.append(f"<tr><th>{html.escape(name)}</th><td data-series='{html.escape(name, quote=True)}'>"
                    f"{_format(latest[name])}</td><td>{unit}</td></tr>")
    table = f"<table class='aimarket-readout'>{''.join(rows)}</table>"
    return solara.Card(title, children=[solara.HTML(tag="div", unsafe_innerHTML=table)])


def _setting(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return f"{value:g}" if isinstance(value, float) else str(value)


def about(model: DashboardModel):
    """What is running: scenario, users sampled, steps, and how to apply changed inputs."""
    s = model.config
    lines = [f"<b>Users sampled: {s.users.count:,}</b> (fewer than a full run, so that a step stays fast; "
             "set <i>sampled users</i> to change it).",
             f"Step {model.steps_done} of {s.run.steps} ({s.time.step_years:g} years each), seed {s.run.seed}.",
             "Changed inputs take effect at <b>Reset</b>."]
    if model.error:
        lines.insert(0, f"<b>Invalid inputs:</b> {html.escape(model.error)}")
    inputs = "".join(f"<tr><td><code>{html.escape(key)}</code></td><td data-input='{html.escape(key, quote=True)}'>"
                     f"{html.escape(_setting(value))}</td></tr>" for key, value in model.overrides.items())
    lines.append(f"Inputs of this run (scenario values, as for <code>aimarket run --set</code>):"
                 f"<table class='aimarket-inputs'>{inputs}</table>")
    body = "".join(f"<p>{line}</p>" for line in lines)  # HTML, not Markdown: no maths or diagram scripts to load
    return solara.Card("This run", children=[solara.HTML(tag="div", unsafe_innerHTML=body)])
