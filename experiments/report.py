"""The report: one self-contained HTML page answering the research questions from stored results.

``aimarket report DIR [--out FILE]`` (or :func:`write_report`) reads the research-question sweeps in
``DIR`` (a results root such as ``results/quick``, or one sweep folder), and writes ``report.html``:
per question (MODEL.md section 1) the question, the sweeps used (experiment file, size, runs, git
commit), a table of the numbers that answer it and its figures, embedded as base64 PNG, so the page
needs no other file. Nothing is simulated.

Every number is the mean across runs with the 5th and 95th percentiles of the runs' values in
brackets and the number of runs with a value (``n``); :func:`answers` returns them as a DataFrame.
The page is written to a temporary name and renamed into place.
"""

from __future__ import annotations

import base64
import html
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from experiments import figures as F
from experiments.questions import QUESTIONS, get
from simulation.outputs import atomic_write

#: Calendar year the governance answers are quoted for (the last year of the runs if they end sooner).
QUOTE_YEAR = 2030
COLUMNS = ["question", "quantity", "setting", "unit", "mean", "lo", "hi", "n"]


def _row(question: str, quantity: str, setting: str, unit: str, values) -> dict:
    return {"question": question, "quantity": quantity, "setting": setting, "unit": unit,
            **F.interval(values)}


def _by_setting(df: pd.DataFrame, keys: list[str]):
    """(label, rows) per setting of the factor ``keys``."""
    yield from F._grouped(df, keys)


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
    keys = F.factor_keys(sw["q2_agi_price"])
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
    years = F.calendar_year(ts["year"])
    counts = ts.assign(cy=years).groupby(["run_id", "cy"])["step"].count()
    full = counts[counts == spy].reset_index().groupby("cy")["run_id"].nunique()
    n_runs = ts["run_id"].nunique()
    covered = sorted(full[full == n_runs].index)
    if not covered:
        return int(years.max())
    return QUOTE_YEAR if QUOTE_YEAR in covered else int(covered[-1])


def _q3(sw) -> list[dict]:
    res = sw["q3_governance"]
    keys = F.factor_keys(res)
    ts = res.timeseries
    year = _quote_year(ts, F.steps_per_year(res))
    in_year = ts[F.calendar_year(ts["year"]) == year].copy()
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
    keys = F.factor_keys(res)
    spy = F.steps_per_year(res)
    models = F.q4_models(sw)
    last_step = res.timeseries.groupby("run_id")["step"].max()
    models = models[models["release_step"] <= models["run_id"].map(last_step) - spy]
    valued = models.dropna(subset=["weights_value_share"])
    per_run = valued.groupby(["run_id", *keys], sort=True).agg(
        share=("weights_value_share", "mean"),
        below_one=("weights_value_share", lambda v: float(np.mean(v < 1.0)))).reset_index()
    gap = F.last_year(res.timeseries, spy).groupby(["run_id", *keys], sort=True)["open_gap_eoom"].mean().reset_index()
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
    keys = F.factor_keys(res)
    spy = F.steps_per_year(res)
    ts = res.timeseries
    final = ts.loc[ts.groupby("run_id")["step"].idxmax()].set_index("run_id")
    wall = F.run_value(res, "capability.data_wall_eoom").astype(float)
    last = F.last_year(ts, spy).groupby("run_id")[["hhi", "regulated_share"]].mean()
    per_run = final[keys].copy() if keys else pd.DataFrame(index=final.index)
    per_run["past_wall"] = final["frontier_eoom"].astype(float) - wall
    per_run = per_run.join(last).reset_index()
    rows = []
    for label, d in _by_setting(per_run, keys):
        rows.append(_row("q5", "frontier pre-training capability above the data wall at the end", label, "eOOM",
                         d["past_wall"]))
        rows.append(_row("q5", "HHI over the last year", label, "0-1", d["hhi"]))
        rows.append(_row("q5", "regulated share of frontier-capable usage over the last year", label, "0-1",
                         d["regulated_share"]))
    return rows


def _q6(sw) -> list[dict]:
    res = sw["q6_energy"]
    keys = F.factor_keys(res)
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
    Raises :class:`experiments.figures.MissingResults` if the question's results are absent."""
    q = get(question)
    sw = F._sweeps(source)
    sw.require(*q.experiments)
    return pd.DataFrame(_ANSWERS[q.id](sw), columns=COLUMNS)


# ----------------------------------------------------------------------------- HTML


def format_number(value: Any, unit: str = "") -> str:
    """Three significant digits, plain notation between 0.001 and 100,000; years with one decimal."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    v = float(value)
    if unit == "year":
        return f"{v:.1f}"
    if v == 0:
        return "0"
    a = abs(v)
    if a >= 1e5 or a < 1e-3:
        return f"{v:.3g}"
    decimals = max(0, 2 - int(math.floor(math.log10(a))))
    return f"{v:.{decimals}f}"


_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; max-width: 1000px; margin: 2em auto;
       padding: 0 1em; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; } h2 { font-size: 1.3em; border-bottom: 1px solid #ccc; padding-bottom: .2em; margin-top: 2em; }
.question { font-style: italic; } .meta, figcaption, .note { color: #555; font-size: .9em; }
table { border-collapse: collapse; width: 100%; font-size: .9em; margin: 1em 0; }
th, td { border-bottom: 1px solid #e3e3e3; padding: .3em .5em; text-align: left; vertical-align: top; }
td.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
figure { margin: 1.5em 0; } img { max-width: 100%; height: auto; }
.missing { background: #fff4e5; padding: .6em 1em; border-left: 4px solid #E69F00; }
code { background: #f4f4f4; padding: 0 .2em; }
"""


def _esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _provenance(sw, names) -> str:
    from experiments.questions import identify

    items = []
    for name in names:
        if name not in sw.folders:
            items.append(f"<li><code>{_esc(name)}</code>: not found</li>")
            continue
        res = sw[name]
        m = res.manifest
        ident = identify(sw.folders[name]) or (name, None)
        git = m.get("git") or {}
        commit = (git.get("commit") or "unknown")[:10] + (" (modified)" if git.get("dirty") else "")
        n_failed = len(m.get("failed_runs", []))
        exp = m.get("experiment", {})
        failed = f", {n_failed} failed" if n_failed else ""
        version = (m.get("versions") or {}).get("aimarket")
        items.append(
            f"<li><code>{_esc(name)}</code>, size {_esc(ident[1] or 'unknown')}: "
            f"{len(res.done)}/{_esc(m.get('n_runs'))} runs done{failed}; {_esc(exp.get('steps'))} steps, "
            f"{_esc(exp.get('replications'))} replications per design point; "
            f"aimarket {_esc(version)}, commit {_esc(commit)}; folder <code>{_esc(sw.folders[name])}</code></li>"
        )
    return "<ul class='meta'>" + "".join(items) + "</ul>"


def _table(df: pd.DataFrame) -> str:
    head = ("<tr><th>quantity</th><th>setting</th><th>mean</th><th>[5%, 95%]</th><th>runs</th>"
            "<th>unit</th></tr>")
    body = []
    for _, r in df.iterrows():
        unit = r["unit"]
        interval = ("" if (isinstance(r["lo"], float) and math.isnan(r["lo"]))
                    else f"[{format_number(r['lo'], unit)}, {format_number(r['hi'], unit)}]")
        body.append(
            f"<tr><td>{_esc(r['quantity'])}</td><td>{_esc(r['setting'])}</td>"
            f"<td class='num'>{format_number(r['mean'], unit)}</td><td class='num'>{interval}</td>"
            f"<td class='num'>{int(r['n'])}</td><td>{_esc(unit)}</td></tr>"
        )
    return f"<table>{head}{''.join(body)}</table>"


def _section(q, sw, root_text: str, dpi: int) -> str:
    parts = [f"<section id='{q.id}'><h2>{q.id.upper()}. {_esc(q.title)}</h2>",
             f"<p class='question'>{_esc(q.text)}</p>"]
    try:
        table = answers(q.id, sw)
    except F.MissingResults:
        command = f"aimarket questions run {q.id} --size quick --out {root_text}"
        parts.append(f"<p class='missing'>No results for this question in <code>{_esc(root_text)}</code>. "
                     f"Run: <code>{_esc(command)}</code>, then this report again.</p></section>")
        return "".join(parts)
    parts.append(_provenance(sw, q.experiments))
    parts.append(_table(table))
    for fn in F.FIGURES[q.id]:
        figure = fn(sw)
        data = base64.b64encode(figure.png_bytes(dpi=dpi)).decode("ascii")
        parts.append(
            f"<figure><img alt='{_esc(figure.title)}' src='data:image/png;base64,{data}'>"
            f"<figcaption><b>{_esc(figure.name)}</b>: {_esc(figure.title)}. {_esc(figure.caption)}"
            "</figcaption></figure>"
        )
        figure.close()
    parts.append("</section>")
    return "".join(parts)


def render(source, *, dpi: int = 150) -> str:
    """The report page (HTML text) for the results in ``source``."""
    from experiments.store import package_versions

    sw = F._sweeps(source)
    root_text = str(sw.path) if sw.path is not None else "DIR"
    version = package_versions().get("aimarket") or "unknown"
    nav = " · ".join(f"<a href='#{q.id}'>{q.id.upper()} {_esc(q.title)}</a>" for q in QUESTIONS.values())
    sections = "".join(_section(q, sw, root_text, dpi) for q in QUESTIONS.values())
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>aimarket: answers to the research questions</title><style>{_CSS}</style></head><body>"
        "<h1>aimarket: answers to the research questions</h1>"
        f"<p class='meta'>Generated by aimarket {_esc(version)} from the results in <code>{_esc(root_text)}</code> "
        "without running the model. Each number is the mean across runs, with the 5th and 95th percentiles of "
        "the runs' values in brackets and the number of runs with a value; figures show the mean with a 5-95% "
        "band. Questions as in MODEL.md section 1; what each output means: docs/ODD.md, section "
        "“Reproducing the research questions”.</p>"
        f"<nav class='meta'>{nav}</nav>{sections}</body></html>\n"
    )


def write_report(source, out: str | Path | None = None, *, dpi: int = 150) -> Path:
    """Write the report for ``source`` to ``out`` (default ``<source>/report.html``) atomically."""
    sw = F._sweeps(source)
    if out is None:
        if sw.path is None:
            raise ValueError("out: give the report's file name")
        out = sw.path / "report.html"
    out = Path(out)
    if not any(True for _ in sw):
        raise F.MissingResults(
            f"{sw.path}: no results of the research questions (expected sweep folders of "
            "experiments/questions/*.toml, e.g. from: aimarket questions run all --size quick --out DIR)"
        )
    text = render(sw, dpi=dpi)
    return atomic_write(out, lambda tmp: tmp.write_text(text, encoding="utf-8"))


__all__ = ["answers", "render", "write_report", "format_number", "QUOTE_YEAR"]
