"""The report: one self-contained HTML page on stored results, for any sweep.

``aimarket report DIR [--out FILE]`` (or :func:`write_report`) reads the sweeps in ``DIR`` (a
results root such as ``results/quick``, or one sweep folder) and writes ``report.html``: per
research question with results the question, the sweeps used (experiment file, size, runs, git
commit), a table of the numbers that answer it and its figures; then, per sweep, a section per
output of interest (``[report] outputs = [...]`` in the experiment file, see
:mod:`aimarket.experiments.analysis.report_generic`). Figures are embedded as base64 PNG, so the page needs no other
file; every table is also written as CSV and LaTeX (booktabs) into ``tables/`` beside the page. A
sweep with fewer than 10 replications per design point gets a "quick size: do not quote" banner. The
page is assembled from the Jinja2 templates in ``experiments/analysis/templates/``. Nothing is simulated.

Every number is the mean across runs with the 5th and 95th percentiles of the runs' values in
brackets and the number of runs with a value (``n``); :func:`answers` returns them as a DataFrame.
The page is written to a temporary name and renamed into place.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from aimarket.experiments.analysis import figures as A
from aimarket.experiments.analysis.report import (
    COLUMNS,
    figure_entry,
    format_number,
    formatted_rows,
    provenance,
    quick_note,
    render_page,
    write_tables,
)
from aimarket.experiments.analysis.report_generic import generic_sections, sweep_folders
from aimarket.experiments.questions import QUESTIONS, get, identify
from aimarket.experiments.questions import paper_figures as F
from aimarket.experiments.questions.sweeps import sweeps
from aimarket.simulation.outputs import atomic_write

#: Calendar year the governance answers are quoted for (the last year of the runs if they end sooner).
QUOTE_YEAR = 2030


def _row(question: str, quantity: str, setting: str, unit: str, values) -> dict:
    return {"question": question, "quantity": quantity, "setting": setting, "unit": unit,
            **A.interval(values)}


def _by_setting(df: pd.DataFrame, keys: list[str]):
    """(label, rows) per setting of the factor ``keys``."""
    yield from A.grouped(df, keys)


# ----------------------------------------------------------------------------- answers per question


def _q1(sw) -> list[dict]:
    runs = F.q1_runs(sw)
    rows = []
    for regime, d in runs.groupby("regime", sort=False):
        scales = sorted(d["market_scale"].unique())
        for scale in (scales[0], scales[-1]) if len(scales) > 1 else scales:
            at = d[d["market_scale"] == scale]
            setting = f"{regime}, market scale {scale:g}x (log10 S/σ = {at['log_size_over_sunk'].iloc[0]:.2f})"
            rows.append(_row("q1", "HHI over the last year", setting, "0-1", at["hhi"]))
            rows.append(_row("q1", "CR4 over the last year", setting, "0-1", at["cr4"]))
            rows.append(_row("q1", "surviving labs at the end", setting, "labs", at["n_labs"]))
        largest = d[d["market_scale"] == scales[-1]]
        rows.append({"question": "q1", "quantity": "lower bound of HHI (minimum over runs) at the largest market",
                     "setting": regime, "unit": "0-1", "mean": float(largest["hhi"].min()), "lo": np.nan,
                     "hi": np.nan, "n": int(largest["hhi"].notna().sum())})
    return rows


def _q2(sw) -> list[dict]:
    runs = F.q2_runs(sw)
    keys = A.factor_keys(sw["q2_agi_price"])
    rows = []
    for label, d in _by_setting(runs, keys):
        prefix = "" if not keys else f"{label}, "
        for task, t in d.groupby("task", sort=False):
            setting = f"{prefix}{task}"
            rows.append(_row("q2", "cost per task over the human wage at the first human-level step", setting,
                             "ratio", t["cost_ratio"]))
            rows.append(_row("q2", "copies served at once at the AGI step", setting, "copies", t["copies_at_agi"]))
            rows.append(_row("q2", "years from human level until the cost falls below the wage", setting,
                             "years", t["years_to_parity"]))
            rows.append(_row("q2", "share of runs in which the cost fell below the wage", setting, "0-1",
                             t["parity_year"].notna().astype(float)))
        first = d.drop_duplicates("run_id")
        rows.append(_row("q2", "AGI year (every task type at human level)", label, "year", first["agi_year"]))
    return rows


def _quote_year(ts: pd.DataFrame, spy: int) -> int:
    """QUOTE_YEAR if every run covers it, else the last calendar year every run covers in full."""
    years = A.calendar_year(ts["year"])
    counts = ts.assign(cy=years).groupby(["run_id", "cy"])["step"].count()
    full = counts[counts == spy].reset_index().groupby("cy")["run_id"].nunique()
    n_runs = ts["run_id"].nunique()
    covered = sorted(full[full == n_runs].index)
    if not covered:
        return int(years.max())
    return QUOTE_YEAR if QUOTE_YEAR in covered else int(covered[-1])


def _q3(sw) -> list[dict]:
    res = sw["q3_governance"]
    keys = A.factor_keys(res)
    ts = res.timeseries
    year = _quote_year(ts, A.steps_per_year(res))
    in_year = ts[A.calendar_year(ts["year"]) == year].copy()
    in_year["escaping_share"] = 1.0 - in_year["regulated_share"].astype(float)
    per_run = in_year.groupby(["run_id", *keys], sort=True).agg(
        escaping_share=("escaping_share", "mean"), evading_labs=("evading_labs", "mean")).reset_index()
    first = res.summary.set_index("run_id")
    rows = []
    for label, d in _by_setting(per_run, keys):
        rows.append(_row("q3", f"share of frontier-capable usage that escapes regulation in {year}", label, "0-1",
                         d["escaping_share"]))
        rows.append(_row("q3", f"evading labs in {year} (mean over the year)", label, "labs", d["evading_labs"]))
        evasion = first.loc[d["run_id"], "first_evasion_year"] if "first_evasion_year" in first else []
        rows.append(_row("q3", "first year a lab evades the threshold", label, "year", evasion))
    return rows


def _q4(sw) -> list[dict]:
    res = sw["q4_open_weights"]
    keys = A.factor_keys(res)
    spy = A.steps_per_year(res)
    models = F.q4_models(sw)
    last_step = res.timeseries.groupby("run_id")["step"].max()
    models = models[models["release_step"] <= models["run_id"].map(last_step) - spy]
    valued = models.dropna(subset=["weights_value_share"])
    per_run = valued.groupby(["run_id", *keys], sort=True).agg(
        share=("weights_value_share", "mean"),
        below_one=("weights_value_share", lambda v: float(np.mean(v < 1.0)))).reset_index()
    gap = A.last_year(res.timeseries, spy).groupby(["run_id", *keys], sort=True)["open_gap_eoom"].mean().reset_index()
    rows = []
    for label, d in _by_setting(per_run, keys):
        rows.append(_row("q4", "weights value share (training cost / lifetime inference spend), mean over "
                         "models released at least a year before the end", label, "ratio", d["share"]))
        rows.append(_row("q4", "share of those models whose training cost is below their lifetime inference "
                         "spend", label, "0-1", d["below_one"]))
    for label, d in _by_setting(gap, keys):
        rows.append(_row("q4", "open-model gap over the last year", label, "eOOM", d["open_gap_eoom"]))
    return rows


def _q5(sw) -> list[dict]:
    res = sw["q5_ida"]
    keys = A.factor_keys(res)
    spy = A.steps_per_year(res)
    ts = res.timeseries
    final = ts.loc[ts.groupby("run_id")["step"].idxmax()].set_index("run_id")
    wall = A.run_value(res, "capability.data_wall_raw_flop").astype(float)
    last = A.last_year(ts, spy).groupby("run_id")[["hhi", "regulated_share"]].mean()
    per_run = final[keys].copy() if keys else pd.DataFrame(index=final.index)
    per_run["past_wall"] = np.log10(final["frontier_training_flop"].astype(float)) - wall
    per_run = per_run.join(last).reset_index()
    rows = []
    for label, d in _by_setting(per_run, keys):
        rows.append(_row("q5", "frontier raw training compute above the data wall at the end", label, "OOM",
                         d["past_wall"]))
        rows.append(_row("q5", "HHI over the last year", label, "0-1", d["hhi"]))
        rows.append(_row("q5", "regulated share of frontier-capable usage over the last year", label, "0-1",
                         d["regulated_share"]))
    return rows


def _q6(sw) -> list[dict]:
    res = sw["q6_energy"]
    keys = A.factor_keys(res)
    years = F.q6_years(sw)
    if years.empty:
        return []
    year = int(years["year"].max())
    at = years[years["year"] == year].copy()
    at["ratio"] = at["inference_power_mw"] / at["training_site_power_mw"].where(at["training_site_power_mw"] > 0)
    rows = []
    for label, d in _by_setting(at, keys):
        rows.append(_row("q6", f"largest single-site training power in {year}", label, "MW",
                         d["training_site_power_mw"]))
        rows.append(_row("q6", f"inference energy in {year}", label, "TWh", d["inference_energy_mwh"] / 1e6))
        rows.append(_row("q6", f"average inference power over the largest training site's power in {year}", label,
                         "ratio", d["ratio"]))
    return rows


_ANSWERS = {"q1": _q1, "q2": _q2, "q3": _q3, "q4": _q4, "q5": _q5, "q6": _q6}


def answers(question: str, source) -> pd.DataFrame:
    """The numbers that answer ``question`` (``q1``..``q6``) from the results in ``source``: one row per
    quantity and setting with ``mean``, ``lo`` (5th percentile), ``hi`` (95th) and ``n`` (runs).
    Raises :class:`aimarket.experiments.analysis.figures.MissingResults` if the question's results are absent."""
    q = get(question)
    sw = sweeps(source)
    sw.require(*q.experiments)
    return pd.DataFrame(_ANSWERS[q.id](sw), columns=COLUMNS)


def _size(folder: Path) -> str | None:
    """The size (quick or paper) of the research-question sweep in ``folder``, None if unknown."""
    ident = identify(folder)
    return ident[1] if ident else None


def _question_section(q, sw, root_text: str, dpi: int) -> dict:
    section = {"id": q.id, "nav": f"{q.id.upper()} {q.title}", "heading": f"{q.id.upper()}. {q.title}",
               "text": q.text, "figures": [], "rows": [], "provenance": []}
    try:
        table = answers(q.id, sw)
    except A.MissingResults:
        section["missing"] = f"No results for this question in {root_text}."
        section["command"] = f"aimarket questions run {q.id} --size quick --out {root_text}"
        return section
    present = [n for n in q.experiments if n in sw.folders]
    section["provenance"] = [provenance(n, sw.folders[n], sw[n], _size(sw.folders[n])) for n in present]
    notes = [note for n in present if (note := quick_note(n, sw[n]))]
    section["quick"] = " ".join(notes) or None
    section["table"] = table
    section["rows"] = formatted_rows(table)
    section["figures"] = [figure_entry(fn(sw), dpi) for fn in F.FIGURES[q.id]]
    return section


def sections(source, *, dpi: int = 150) -> list[dict]:
    """Every section of the report on ``source``: one per research question when it holds question
    sweeps, then one per output of interest of each sweep (see :mod:`aimarket.experiments.analysis.report_generic`)."""
    sw = sweeps(source)
    root_text = str(sw.path) if sw.path is not None else "DIR"
    out = [_question_section(q, sw, root_text, dpi) for q in QUESTIONS.values()] if len(sw) else []
    if sw.path is not None:
        out += generic_sections(sw.path, {str(f): _size(f) for f in sw.folders.values()}, dpi=dpi)
    return out


def render(source, *, dpi: int = 150, tables: str | None = None, parts: list[dict] | None = None) -> str:
    """The report page (HTML text) for the results in ``source``."""
    sw = sweeps(source)
    parts = sections(sw, dpi=dpi) if parts is None else parts
    title = "aimarket: answers to the research questions" if len(sw) else "aimarket: sweep report"
    return render_page(parts, title=title, root=str(sw.path) if sw.path is not None else "DIR", tables=tables)


def write_report(source, out: str | Path | None = None, *, dpi: int = 150) -> Path:
    """Write the report for ``source`` to ``out`` (default ``<source>/report.html``) atomically, and its
    tables as CSV and LaTeX into ``tables/`` beside it."""
    sw = sweeps(source)
    if out is None:
        if sw.path is None:
            raise ValueError("out: give the report's file name")
        out = sw.path / "report.html"
    out = Path(out)
    if not len(sw) and (sw.path is None or not sweep_folders(sw.path)):
        raise A.MissingResults(
            f"{sw.path}: no sweep results: no results of the research questions (sweep folders of "
            "experiments/questions/*.toml) and no other sweep folder (with manifest.json) in it"
        )
    parts = sections(sw, dpi=dpi)
    tables = out.parent / "tables"
    write_tables(parts, tables)
    text = render(sw, dpi=dpi, tables=str(tables), parts=parts)
    return atomic_write(out, lambda tmp: tmp.write_text(text, encoding="utf-8"))



def write_report_locked(source, out: str | Path | None = None, *, dpi: int = 150) -> Path:
    """:func:`write_report` (``aimarket report``) under a lock on the page, in a folder checked writable
    first: a second report writing the same page is refused with one line."""
    from aimarket.simulation.output_folders import FileLock, ensure_writable_folder

    page = Path(out) if out is not None else Path(source) / "report.html"
    ensure_writable_folder(page.absolute().parent, "--out")
    busy = f"--out {page}: another report (pid {{pid}}) is writing this file"
    with FileLock(page.absolute().parent / f".{page.name}.lock", busy, remove=True):
        return write_report(source, out, dpi=dpi)


__all__ = ["answers", "render", "sections", "write_report", "write_report_locked", "write_tables", "format_number",
           "QUOTE_YEAR"]
