"""``aimarket sweep --check DIR``: is a results folder a readable sweep store, and what does it hold?

Checks that the manifest and design read, that every complete run folder belongs to the design and
holds a readable ``summary.json`` and the tables the experiment keeps, and reports leftovers of a
killed session (hidden temporary folders, which the next ``--resume`` deletes). With
``rebuild_summary`` it then rewrites ``summary.parquet`` (:mod:`experiments.summary_table`).
Missing or failed runs are reported, not counted as problems: ``--resume`` makes them.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq

from experiments import store, summary_table
from simulation.errors import UserInputError


@dataclass
class StoreCheck:
    """What ``check_store`` found in one results folder."""

    out: Path
    n_runs: int = 0
    done: int = 0
    failed: int = 0
    leftovers: int = 0
    problems: list[str] = field(default_factory=list)
    summary_rebuilt: Path | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def line(self) -> str:
        missing = self.n_runs - self.done - self.failed
        text = (
            f"check {self.out}: {self.done}/{self.n_runs} runs done, {self.failed} failed, {missing} missing, "
            f"{self.leftovers} partial leftover(s), {len(self.problems)} problem(s)"
        )
        if self.summary_rebuilt is not None:
            text += f"; wrote {self.summary_rebuilt.name}"
        return text


def check_store(out: str | Path, rebuild_summary: bool = False) -> StoreCheck:
    """Check the results folder ``out``; raises :class:`UserInputError` if it is not a sweep folder."""
    out = Path(out).resolve()
    manifest = store.read_manifest(out) if out.is_dir() else None
    if manifest is None or not (out / store.DESIGN).is_file():
        raise UserInputError(f"--check {out}: not a sweep folder (no {store.MANIFEST} or {store.DESIGN})")
    report = StoreCheck(out)
    run_ids = set(pq.read_table(out / store.DESIGN, columns=["run_id"]).column("run_id").to_pylist())
    report.n_runs = len(run_ids)
    done = store.completed_runs(out)
    report.done = len(done & run_ids)
    report.failed = len({f["run_id"] for f in manifest.get("failed_runs", [])} - done)
    kept = [f"{name}.parquet" for name in manifest.get("experiment", {}).get("outputs", []) if name != "summary"]
    for run_id in sorted(done):
        folder = out / store.RUNS / store.run_dir_name(run_id)
        if run_id not in run_ids:
            report.problems.append(f"{folder.name}: not a run of the design")
            continue
        try:
            json.loads((folder / "summary.json").read_text())
        except (OSError, ValueError) as exc:
            report.problems.append(f"{folder.name}/summary.json: unreadable ({type(exc).__name__})")
        report.problems += [f"{folder.name}/{name}: missing" for name in kept if not (folder / name).is_file()]
    for folder in (out, out / store.RUNS):
        if folder.is_dir():
            report.leftovers += sum(1 for e in os.scandir(folder) if e.name.startswith(".") and ".tmp-" in e.name)
    if rebuild_summary and report.ok:
        with store.FolderLock(out):  # not while a sweep writes the folder
            report.summary_rebuilt = summary_table.write(out)
    return report
