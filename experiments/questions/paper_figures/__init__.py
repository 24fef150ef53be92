"""Paper figures of the research questions, drawn from stored sweep results (the model is never run).

Every figure function takes a *source*, a results root such as ``results/quick`` (one sweep folder
per experiment of :mod:`aimarket.experiments.questions`), a single sweep folder, or a
:class:`~aimarket.experiments.questions.sweeps.Sweeps`, and
returns a :class:`Figure`: the matplotlib figure together with ``data``, the pandas DataFrame of
exactly what it drew. ``Figure.save(folder)`` writes ``<name>.pdf`` (vector) and ``<name>.png``
(300 dpi)::

    from aimarket.experiments.questions import paper_figures as figures
    fig = figures.q3_governance("results/quick")
    fig.data                      # policy, threshold, measure, year, mean, lo, hi, n
    fig.save("figures/")          # figures/q3_governance.pdf and .png
    figures.draw_all("results/quick", "figures/")     # every figure whose results exist

Statistics: a band is the mean across runs (replications of one design point) and the 5th and
95th percentiles of the runs' values (numpy's linear interpolation); ``n`` counts the runs with a
value (null values, e.g. a regulated share when no usage is frontier-capable, are left out).
Style: ``experiments/aimarket.mplstyle`` (Okabe-Ito colours, TrueType fonts in PDFs).

Figures (question: name, what it shows; one module per question, ``q1.py``..``q6.py``):

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

from collections.abc import Callable
from pathlib import Path
from typing import Any

from aimarket.experiments.analysis.figures import BAND, Figure, MissingResults, band, interval
from aimarket.experiments.analysis.style import PALETTE, STYLE, style
from aimarket.experiments.questions import get
from aimarket.experiments.questions.paper_figures.q1 import REGIMES, TEXTBOOK, q1_bounds, q1_market_size, q1_runs
from aimarket.experiments.questions.paper_figures.q2 import q2_agi_price, q2_cost_over_time, q2_runs
from aimarket.experiments.questions.paper_figures.q3 import q3_governance
from aimarket.experiments.questions.paper_figures.q4 import q4_models, q4_open_weights
from aimarket.experiments.questions.paper_figures.q5 import q5_ida
from aimarket.experiments.questions.paper_figures.q6 import q6_energy, q6_years
from aimarket.experiments.questions.sweeps import Sweeps, sweeps
from aimarket.simulation.outputs import atomic_write

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
    return [fn(source) for fn in FIGURES[get(question).id]]


def draw_all(source, out: str | Path, *, formats: tuple[str, ...] = ("pdf", "png"), dpi: int = 300,
             questions: list[str] | None = None) -> dict[str, list[Path]]:
    """Draw every figure whose results are in ``source`` into ``out``; returns ``{figure name:
    [paths]}``. Also writes ``<name>.csv`` next to each figure with its data. Raises
    :class:`MissingResults` if no question has results."""
    sw = sweeps(source)
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


def write_figures(source, out: str | Path, *, formats: tuple[str, ...] = ("pdf", "png"), dpi: int = 300,
                  questions: list[str] | None = None) -> dict[str, list[Path]]:
    """:func:`draw_all` into a hidden staging folder that replaces ``out`` once every figure is written
    (``aimarket figures``); returns ``{figure name: [paths in out]}``."""
    from aimarket.simulation.output_folders import staged_folder

    out = Path(out)
    with staged_folder(out) as staging:
        drawn = draw_all(source, staging, formats=formats, dpi=dpi, questions=questions)
    return {name: [out / p.name for p in paths] for name, paths in drawn.items()}


def _write_csv(figure: Figure, folder: Path) -> Path:
    return atomic_write(folder / f"{figure.name}.csv", lambda tmp: figure.data.to_csv(tmp, index=False))




__all__ = [
    "Figure",
    "Sweeps",
    "MissingResults",
    "FIGURES",
    "REGIMES",
    "TEXTBOOK",
    "STYLE",
    "PALETTE",
    "BAND",
    "band",
    "interval",
    "style",
    "sweeps",
    "draw_all",
    "write_figures",
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
