"""The report's building blocks, for any sweep: numbers as the page shows them, the provenance line of a
sweep, embedded figures, the HTML page and the tables as CSV and LaTeX (booktabs).

The page is assembled from the Jinja2 templates in ``experiments/analysis/templates/``. The report on a
results folder (the research questions' sections, then a section per output of interest of each sweep)
is :func:`aimarket.experiments.questions.report.write_report`; the sections of any sweep are
:mod:`aimarket.experiments.analysis.report_generic`. Nothing is simulated.
"""

from __future__ import annotations

import base64
import math
from pathlib import Path
from typing import Any

import pandas as pd

from aimarket.resources import templates_folder
from aimarket.simulation.outputs import atomic_write

COLUMNS = ["question", "quantity", "setting", "unit", "mean", "lo", "hi", "n"]
#: Fewer replications per design point than this put a "quick size: do not quote" banner on the page.
QUOTABLE_REPLICATIONS = 10
#: The page and table templates shipped with the package.
TEMPLATES = templates_folder()  # experiments/analysis/templates/, found with importlib.resources


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


def provenance(name: str, folder: Path, res, size: str | None = None) -> str:
    """One line on where a sweep's results come from (experiment, size, runs, versions, commit); ``size``:
    the size of a research-question sweep (quick or paper), None if unknown."""
    m = res.manifest
    git = m.get("git") or {}
    commit = (git.get("commit") or "unknown")[:10] + (" (modified)" if git.get("dirty") else "")
    n_failed = len(m.get("failed_runs", []))
    exp = m.get("experiment", {})
    failed = f", {n_failed} failed" if n_failed else ""
    version = (m.get("versions") or {}).get("aimarket")
    return (f"{name}, size {size or 'unknown'}: {len(res.done)}/{m.get('n_runs')} runs done{failed}; "
            f"{exp.get('steps')} steps, {exp.get('replications')} replications per design point; aimarket {version}, "
            f"commit {commit}; folder {folder}")


def figure_entry(figure, dpi: int) -> dict:
    """A figure as the page embeds it (base64 PNG), then closed."""
    entry = {"name": figure.name, "title": figure.title, "caption": figure.caption,
             "png": base64.b64encode(figure.png_bytes(dpi=dpi)).decode("ascii")}
    figure.close()
    return entry


def _environment(escape_html: bool):
    """The templates' Jinja2 environment; for the page, every value is escaped (``html.escape``)."""
    import html

    import jinja2

    finalize = (lambda value: html.escape(str(value), quote=True)) if escape_html else None
    return jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), finalize=finalize, autoescape=False,
                              keep_trailing_newline=True)


def render_page(parts: list[dict], *, title: str, root: str, tables: str | None = None) -> str:
    """The report page (HTML text) with the sections ``parts``."""
    from aimarket.experiments.sweeps.store import package_versions

    quick = " ".join(dict.fromkeys(s["quick"] for s in parts if s.get("quick")))
    return _environment(escape_html=True).get_template("report.html.j2").render(
        title=title, version=package_versions().get("aimarket") or "unknown", root=root, sections=parts,
        quick=quick, tables=tables)


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


__all__ = ["COLUMNS", "QUOTABLE_REPLICATIONS", "format_number", "formatted_rows", "replications_per_cell",
           "quick_note", "provenance", "figure_entry", "render_page", "latex_escape", "write_tables"]
