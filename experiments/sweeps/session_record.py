"""The record of one sweep session (:mod:`aimarket.experiments.sweeps.session`): the manifest's counts and
failures, refreshed as runs finish, the progress bar, and :class:`SweepReport`, what the session did."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from aimarket.experiments.sweeps import store
from aimarket.experiments.sweeps.runner import Outcome, Task

SAVE_EVERY = 2.0  # seconds between manifest refreshes during a sweep


@dataclass
class SweepReport:
    """What one ``sweep`` call did. Times in seconds."""

    out: Path
    n_runs: int
    done_before: int
    done_now: int
    failed: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    backend: dict = field(default_factory=dict)
    remade: int = 0  # finished runs that failed verification and were run again

    @property
    def complete(self) -> bool:
        return self.done_before + self.done_now == self.n_runs

    def line(self) -> str:
        return (
            f"sweep {self.out}: {self.done_before + self.done_now}/{self.n_runs} runs done "
            f"({self.done_now} now, {len(self.failed)} failed"
            + (f", {self.remade} remade after failing verification" if self.remade else "")
            + f") in {self.seconds:.1f} s on {self.backend.get('kind')} x{self.backend.get('workers')}"
        )


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class SessionRecord:
    """Keeps ``out``'s manifest (with this ``session``'s entry) and ``_failures.json`` in step with the runs
    as they finish: committed runs join ``done``, failed ones ``failures`` (with their tracebacks)."""

    def __init__(self, out: Path, manifest: dict, session: dict, done: set, code: dict, report: SweepReport):
        self.out, self.manifest, self.session, self.done, self.code, self.report = (
            out, manifest, session, done, code, report)
        self.failures = {f["run_id"]: f for f in manifest.get("failed_runs", []) if f["run_id"] not in done}
        self.tracebacks: dict[int, str] = {}
        self.last_save = 0.0
        self.bar = None

    def failed_runs(self) -> list[dict]:
        return [self.failures[k] for k in sorted(self.failures)]

    def save(self, status: str | None = None) -> None:
        manifest = self.manifest
        manifest["completed_runs"] = len(self.done)
        manifest["failed_runs"] = self.failed_runs()
        if status is not None:
            self.session["status"] = status
            self.session["finished"] = manifest["finished"] = now()
            manifest["status"] = status
        store.write_manifest(self.out, manifest)
        failed = [self.failures[k] | {"traceback": self.tracebacks.get(k, "")} for k in sorted(self.failures)]
        store.atomic_write(self.out / store.FAILURES, store.json_bytes(failed))
        self.last_save = time.monotonic()

    def on_outcome(self, task: Task, outcome: Outcome, attempts: int) -> None:
        session = self.session
        if outcome.ok:
            store.commit_run(self.out, task.run_id, outcome.files, seed=task.seed, code=self.code)
            self.done.add(task.run_id)
            self.failures.pop(task.run_id, None)
            session["runs_done"] += 1
            self.report.done_now += 1
        else:
            self.failures[task.run_id] = {
                "run_id": task.run_id,
                "seed": task.seed,
                "error": outcome.error,
                "attempts": attempts,
            }
            self.tracebacks[task.run_id] = outcome.traceback
            session["runs_failed"] += 1
        if time.monotonic() - self.last_save > SAVE_EVERY:
            self.save()  # the run folders are the record; the manifest's counts are refreshed now and then
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(failed=session["runs_failed"], refresh=False)


def progress_bar(total: int, initial: int, progress: bool | None):
    if progress is False or (progress is None and not sys.stderr.isatty()):
        return None
    from tqdm import tqdm

    return tqdm(
        total=total,
        initial=initial,
        unit="run",
        desc="sweep",
        dynamic_ncols=True,
        smoothing=0.1,
        file=sys.stderr,
        postfix={"failed": 0},
    )


__all__ = ["SweepReport", "SessionRecord", "SAVE_EVERY", "now", "progress_bar"]
