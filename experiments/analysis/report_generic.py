"""The report's sections for any sweep: one per output of interest of each sweep.

The outputs come from the experiment file::

    [report]
    outputs = ["hhi", "n_labs", "final_hhi"]    # timeseries columns or summary entries

(a sweep of the research questions gets such sections only when its file lists outputs; any other
sweep without a list gets :data:`DEFAULT_OUTPUTS`). Each section has a table, the mean across runs
with the 5th and 95th percentiles and n per setting of the sweep's factors (a timeseries output is
taken as each run's mean over its last simulated year), and the figure of :mod:`aimarket.experiments.analysis.plot`
(a timeseries output against the calendar year, a summary output against the first factor).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pandas as pd

from aimarket.experiments.analysis import figures as F
from aimarket.experiments.analysis import plot as P
from aimarket.experiments.analysis.report import COLUMNS, figure_entry, formatted_rows, provenance, quick_note
from aimarket.experiments.sweeps.store import load
from aimarket.simulation.errors import UserInputError

#: Sections of a sweep whose experiment file lists no outputs: timeseries columns if it kept them,
#: else summary entries.
DEFAULT_OUTPUTS = {"timeseries": ("hhi", "n_labs", "inference_share", "regulated_share"),
                   "summary": ("mean_last_year_hhi", "final_n_labs", "mean_inference_share")}
#: A design with more settings than this (a sampled range) gets one table row for all runs.
MAX_TABLE_SETTINGS = 12


def sweep_folders(path: str | Path) -> list[Path]:
    """``path`` itself if it is a sweep folder, else its sub-folders that are (one level deep)."""
    path = Path(path)
    if (path / "manifest.json").is_file():
        return [path]
    return sorted(p for p in path.iterdir() if p.is_dir() and (p / "manifest.json").is_file())


def listed_outputs(manifest: dict) -> list[str]:
    """``report.outputs`` of the sweep's experiment file (from the manifest, or its copy of the file)."""
    report = (manifest.get("experiment") or {}).get("report")
    if report is not None:
        return list(report.get("outputs", []))
    try:
        raw = tomllib.loads(manifest.get("experiment_text") or "")
    except tomllib.TOMLDecodeError:
        return []
    return list((raw.get("report") or {}).get("outputs", []))


def outputs_of(res, is_question: bool) -> list[str]:
    """The outputs of interest of the sweep ``res`` (see the module docstring)."""
    listed = listed_outputs(res.manifest)
    if listed or is_question:
        return listed
    kept = res.manifest.get("experiment", {}).get("outputs", [])
    return list(DEFAULT_OUTPUTS["timeseries" if "timeseries" in kept else "summary"])


def output_table(name: str, res, y: str) -> pd.DataFrame:
    """Mean, 5th and 95th percentile and n of ``y`` per setting of the sweep's factors (report.COLUMNS)."""
    keys = F.factor_keys(res)
    runs = P.per_run(res, y)
    quantity = y if P.output_kind(res, y) == "summary" else f"{y}, mean over each run's last year"
    groups = F.grouped(runs, keys) if runs[keys].drop_duplicates().shape[0] <= MAX_TABLE_SETTINGS else [
        ("all runs (sampled design)", runs)]
    rows = [{"question": name, "quantity": quantity, "setting": label, "unit": P.unit(y), **F.interval(d[y])}
            for label, d in groups]
    return pd.DataFrame(rows, columns=COLUMNS)


def output_figure(res, y: str):
    """The figure of ``y``: against the calendar year (timeseries) or the first factor (summary), one
    line per setting of the other factors when they are few; None for a summary output without factors."""
    keys = F.factor_keys(res)
    if P.output_kind(res, y) == "timeseries":
        x, rest = "year", keys
    elif keys:
        x, rest = keys[0], keys[1:]
    else:
        return None
    design = res.design[res.design["status"] == "done"]
    by = rest if rest and len(design[rest].drop_duplicates()) <= P.MAX_LINES else []
    return P.plot_output(res, y, x, by)


def generic_sections(path: Path, question_folders: dict[str, str | None], *, dpi: int) -> list[dict]:
    """The sections of every sweep folder under ``path``; ``question_folders``: those of the questions,
    ``{folder: size}`` (quick or paper, None if unknown)."""
    sections = []
    for folder in sweep_folders(path):
        res = load(folder)
        if not res.done:
            continue
        name = folder.name
        for y in outputs_of(res, str(folder) in question_folders):
            try:
                table = output_table(name, res, y)
            except UserInputError as exc:
                raise UserInputError(f"{folder}: report.outputs: {exc}".replace("--y ", "")) from None
            figure = output_figure(res, y)
            sections.append({
                "id": f"{name}-{y}".replace(".", "_").replace("/", "_"), "nav": f"{name}: {y}",
                "heading": f"{name}: {y}", "text": res.manifest.get("experiment", {}).get("description", ""),
                "quick": quick_note(name, res),
                "provenance": [provenance(name, folder, res, question_folders.get(str(folder)))], "table": table,
                "rows": formatted_rows(table), "figures": [figure_entry(figure, dpi)] if figure else [],
                "source": str(folder)})
    return sections
