"""The report: one self-contained HTML page on stored results, for any sweep.

``aimarket report DIR [--out FILE]`` (or :func:`write_report`) reads the sweeps in ``DIR`` (a
results root such as ``results/quick``, or one sweep folder) and writes ``report.html``: per
research question with results the question, the sweeps used (experiment file, size, runs, git
commit), a table of the numbers that answer it and its figures; then, per sweep, a section per
output of interest (``[report] outputs = [...]`` in the experiment file, see
:mod:`aimarket.experiments.report_generic`). Figures are embedded as base64 PNG, so the page needs no other
file; every table is also written as CSV and LaTeX (booktabs) into ``tables/`` beside the page. A
sweep with fewer than 10 replications per design point gets a "quick size: do not quote" banner. The
page is assembled from the Jinja2 templates in ``experiments/templates/``. Nothing is simulated.

Every number is the mean across runs with the 5th and 95th percentiles of the runs' values in
brackets and the number of runs with a value (``n``); :func:`answers` returns them as a DataFrame.
The page is written to a temporary name and renamed into place.
"""

from __future__ import annotations

import base64
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from aimarket.experiments import figures as F
from aimarket.experiments.questions import QUESTIONS, get
from aimarket.resources import templates_folder
from aimarket.simulation.outputs import atomic_write

#: Calendar year the governance answers are quoted for (the last year of the runs if they end sooner).
QUOTE_YEAR = 2030
COLUMNS = ["question", "quantity", "setting", "unit", "mean", "lo", "hi", "n"]
#: Fewer replications per design point than this put a "quick size: do not quote" banner on the page.
QUOTABLE_REPLICATIONS = 10
#: The page and table templates shipped with the package.
TEMPLATES = templates_folder()  # experiments/templates/, found with importlib.resources


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
    wall = F.run_value(res, "capability.data_wall_raw_flop").astype(float)
    last = F.last_year(ts, spy).groupby("run_id")[["hhi", "regulated_share"]].mean()
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
    Raises :class:`aimarket.experiments.figures.MissingResults` if the question's results are absent."""
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


def _interval_text(row) -> str:
    lo = row["lo"]
    if lo is None or (isinstance(lo, float) and math.isnan(lo)):
        return ""
    return f"[{format_number(lo, row['unit'])}, {format_number(row['hi'], row['unit'])}]"


def formatted_rows(table: pd.DataFrame) -> list[dict]:
    """The rows of an answers table as the text the page and the LaTeX table show."""
    return [{"quantity": r["quantity"], "setting": r["setting"], "mean": format_number(r["mean"], r["unit"]),
             "interval": _interval_text(r), "n": int(r["n"]), "unit": r["unit"]} for _, r in table.iterrows()]


def replications_per_cell(res) -> int:
    """The fewest finished runs of any design point of the sweep ``res`` (0 if none finished)."""
    done = res.design[res.design["status"] == "done"]
    return int(done.groupby("point").size().min()) if len(done) else 0


def quick_note(name: str, res) -> str | None:
    """The "do not quote" note of a sweep with fewer than QUOTABLE_REPLICATIONS runs per design point."""
    n = replications_per_cell(res)
    if n >= QUOTABLE_REPLICATIONS:
        return None
    return (f"{name}: {n} replication{'s' if n != 1 else ''} per design point (fewer than {QUOTABLE_REPLICATIONS}); "
            "bands and intervals across so few runs are rough.")


def provenance(name: str, folder: Path, res) -> str:
    """One line on where a sweep's results come from (experiment, size, runs, versions, commit)."""
    from aimarket.experiments.questions import identify

    m = res.manifest
    ident = identify(folder) or (name, None)
    git = m.get("git") or {}
    commit = (git.get("commit") or "unknown")[:10] + (" (modified)" if git.get("dirty") else "")
    n_failed = len(m.get("failed_runs", []))
    exp = m.get("experiment", {})
    failed = f", {n_failed} failed" if n_failed else ""
    version = (m.get("versions") or {}).get("aimarket")
    return (f"{name}, size {ident[1] or 'unknown'}: {len(res.done)}/{m.get('n_runs')} runs done{failed}; "
            f"{exp.get('steps')} steps, {exp.get('replications')} replications per design point; aimarket {version}, "
            f"commit {commit}; folder {folder}")


def figure_entry(figure, dpi: int) -> dict:
    """A figure as the page embeds it (base64 PNG), then closed."""
    entry = {"name": figure.name, "title": figure.title, "caption": figure.caption,
             "png": base64.b64encode(figure.png_bytes(dpi=dpi)).decode("ascii")}
    figure.close()
    return entry


def _question_section(q, sw, root_text: str, dpi: int) -> dict:
    section = {"id": q.id, "nav": f"{q.id.upper()} {q.title}", "heading": f"{q.id.upper()}. {q.title}",
               "text": q.text, "figures": [], "rows": [], "provenance": []}
    try:
        table = answers(q.id, sw)
    except F.MissingResults:
        section["missing"] = f"No results for this question in {root_text}."
        section["command"] = f"aimarket questions run {q.id} --size quick --out {root_text}"
        return section
    present = [n for n in q.experiments if n in sw.folders]
    section["provenance"] = [provenance(n, sw.folders[n], sw[n]) for n in present]
    notes = [note for n in present if (note := quick_note(n, sw[n]))]
    section["quick"] = " ".join(notes) or None
    section["table"] = table
    section["rows"] = formatted_rows(table)
    section["figures"] = [figure_entry(fn(sw), dpi) for fn in F.FIGURES[q.id]]
    return section


def sections(source, *, dpi: int = 150) -> list[dict]:
    """Every section of the report on ``source``: one per research question when it holds question
    sweeps, then one per output of interest of each sweep (see :mod:`aimarket.experiments.report_generic`)."""
    from aimarket.experiments.report_generic import generic_sections

    sw = F._sweeps(source)
    root_text = str(sw.path) if sw.path is not None else "DIR"
    out = [_question_section(q, sw, root_text, dpi) for q in QUESTIONS.values()] if len(sw) else []
    if sw.path is not None:
        out += generic_sections(sw.path, set(map(str, sw.folders.values())), dpi=dpi)
    return out


def _environment(escape_html: bool):
    """The templates' Jinja2 environment; for the page, every value is escaped (``html.escape``)."""
    import html

    import jinja2

    finalize = (lambda value: html.escape(str(value), quote=True)) if escape_html else None
    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), finalize=finalize, autoescape=False,
                              keep_trailing_newline=True)


def render(source, *, dpi: int = 150, tables: str | None = None, parts: list[dict] | None = None) -> str:
    """The report page (HTML text) for the results in ``source``."""
    from aimarket.experiments.store import package_versions

    sw = F._sweeps(source)
    parts = sections(sw, dpi=dpi) if parts is None else parts
    quick = " ".join(dict.fromkeys(s["quick"] for s in parts if s.get("quick")))
    title = "aimarket: answers to the research questions" if len(sw) else "aimarket: sweep report"
    return _environment(escape_html=True).get_template("report.html.j2").render(
        title=title, version=package_versions().get("aimarket") or "unknown",
        root=str(sw.path) if sw.path is not None else "DIR", sections=parts, quick=quick, tables=tables)


_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def latex_escape(text) -> str:
    """``text`` with LaTeX's special characters escaped."""
    return "".join(_LATEX_SPECIAL.get(c, c) for c in str(text))


def write_tables(parts: list[dict], folder: Path) -> list[Path]:
    """Each section's table as ``folder/<section>.csv`` (the numbers) and ``.tex`` (booktabs), atomically."""
    env = _environment(escape_html=False)
    written = []
    for s in parts:
        table = s.get("table")
        if table is None or table.empty:
            continue
        folder.mkdir(parents=True, exist_ok=True)
        written.append(atomic_write(folder / f"{s['id']}.csv", lambda tmp, t=table: t.to_csv(tmp, index=False)))
        rows = [{k: latex_escape(v) for k, v in r.items()} for r in s["rows"]]
        tex = env.get_template("table.tex.j2").render(caption=latex_escape(s["heading"]), rows=rows,
                                                      source=latex_escape(s.get("source", "")))
        written.append(atomic_write(folder / f"{s['id']}.tex", lambda tmp, t=tex: tmp.write_text(t, encoding="utf-8")))
    return written


def write_report(source, out: str | Path | None = None, *, dpi: int = 150) -> Path:
    """Write the report for ``source`` to ``out`` (default ``<source>/report.html``) atomically, and its
    tables as CSV and LaTeX into ``tables/`` beside it."""
    from aimarket.experiments.report_generic import sweep_folders

    sw = F._sweeps(source)
    if out is None:
        if sw.path is None:
            raise ValueError("out: give the report's file name")
        out = sw.path / "report.html"
    out = Path(out)
    if not len(sw) and (sw.path is None or not sweep_folders(sw.path)):
        raise F.MissingResults(
            f"{sw.path}: no sweep results: no results of the research questions (sweep folders of "
            "experiments/questions/*.toml) and no other sweep folder (with manifest.json) in it"
        )
    parts = sections(sw, dpi=dpi)
    tables = out.parent / "tables"
    write_tables(parts, tables)
    text = render(sw, dpi=dpi, tables=str(tables), parts=parts)
    return atomic_write(out, lambda tmp: tmp.write_text(text, encoding="utf-8"))


__all__ = ["answers", "render", "sections", "write_report", "write_tables", "format_number", "QUOTE_YEAR"]
