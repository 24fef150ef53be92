"""``aimarket sweep --check DIR``: the state of a results store, without running or changing anything.

Reports the design size, the runs done (verified by size, and by SHA-256 with ``verify``), damaged run
folders, failed and missing runs, partial files an interrupted write left, and the code identities of
the sessions. :func:`check_store` returns the report; ``ok`` is true when every run is done and every
run folder verifies. With ``rebuild_summary`` (``--rebuild-summary``) it then rewrites
``summary.parquet`` from the finished runs (:mod:`aimarket.experiments.sweeps.summary_table`), unless a run folder is
damaged (``--resume`` remakes it first); that is the only file the check ever writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from aimarket.experiments.sweeps import code_identity, store, summary_table
from aimarket.experiments.sweeps.run_folders import describe_bad, partial_entries, run_folders, verify_runs
from aimarket.simulation.errors import StoreError


@dataclass
class StoreCheck:
    """The state of one results store (run ids; ``damaged`` maps a run id to the reason)."""

    path: Path
    n_runs: int
    verified: str
    done: set[int] = field(default_factory=set)
    damaged: dict[int, str] = field(default_factory=dict)
    unfinished: set[int] = field(default_factory=set)
    failed: set[int] = field(default_factory=set)
    missing: set[int] = field(default_factory=set)
    partial: list[str] = field(default_factory=list)
    codes: list[dict] = field(default_factory=list)
    status: str = "?"
    summary_rebuilt: Path | None = None
    summary_refused: str | None = None

    @property
    def ok(self) -> bool:
        return len(self.done) == self.n_runs and not self.damaged

    def lines(self) -> list[str]:
        out = [
            f"sweep {self.path}: {len(self.done)}/{self.n_runs} runs done and verified ({self.verified}); "
            f"{len(self.damaged)} damaged, {len(self.failed)} failed, {len(self.missing)} missing; "
            f"manifest status {self.status}"
        ]
        if self.damaged:
            out.append(f"  damaged (remade by --resume): {describe_bad(self.damaged, limit=5)}")
        if self.unfinished:
            out.append(f"  {len(self.unfinished)} run folder(s) without _SUCCESS (deleted by --resume)")
        if self.partial:
            shown = ", ".join(self.partial[:5]) + (" ..." if len(self.partial) > 5 else "")
            out.append(f"  {len(self.partial)} partial temporary file(s) (deleted by --resume): {shown}")
        first = 1
        for i, code in enumerate(self.codes, 1):  # one line per run of sessions with the same code
            if i == len(self.codes) or _key(self.codes[i]) != _key(code):
                which = f"session {i}" if first == i else f"sessions {first}-{i}"
                out.append(f"  code of {which}: {_describe_code(code)}")
                first = i + 1
        if len({_key(c) for c in self.codes}) > 1:
            out.append("  WARNING: the sessions ran different code (resumed with --allow-code-change)")
        if self.summary_rebuilt is not None:
            out.append(f"  wrote {self.summary_rebuilt.name}: one row per finished run ({len(self.done)} rows)")
        if self.summary_refused is not None:
            out.append(f"  {summary_table.SUMMARY_TABLE} not rewritten: {self.summary_refused}")
        return out


def _key(code: dict) -> tuple:
    return tuple(sorted((k, str(v)) for k, v in code.items()))


def _describe_code(code: dict) -> str:
    if not isinstance(code, dict):
        return "not recorded"
    commit = (code.get("commit") or "no git")[:12]
    return (
        f"version {code.get('version')}, commit {commit}, dirty {str(code.get('dirty')).lower()}, "
        f"source {str(code.get('source_sha256'))[:12]}, run_fn {code.get('run_fn')}"
    )


def check_store(out: str | Path, verify: bool = False, rebuild_summary: bool = False) -> StoreCheck:
    """Inspect the results store ``out`` (nothing is written unless ``rebuild_summary``); raises
    :class:`StoreError` if ``out`` is not a sweep folder or its manifest is corrupt."""
    out = Path(out)
    if not out.is_dir():
        raise StoreError(f"--check {out}: not a folder")
    manifest = store.read_manifest(out)
    if manifest is None:
        raise StoreError(f"--check {out}: not a sweep folder (no {store.MANIFEST})")
    n_runs = manifest["n_runs"]
    good, bad = verify_runs(out, hashes=verify)
    folders = set(run_folders(out))
    failed = {f.get("run_id") for f in manifest["failed_runs"] if isinstance(f, dict)} - good
    sessions = [s for s in manifest["sessions"] if isinstance(s, dict)]
    codes = [s.get("code") for s in sessions] or [manifest.get("code")]
    everything = set(range(n_runs))
    report = StoreCheck(
        path=out,
        n_runs=n_runs,
        verified="sizes and SHA-256" if verify else "sizes; add --verify to compare SHA-256 hashes",
        done=good & everything,
        damaged=bad,
        unfinished=folders - good - set(bad),
        failed=failed & everything,
        missing=everything - good - set(bad) - failed,
        partial=partial_entries(out),
        codes=[c for c in codes if c is not None],
        status=str(manifest.get("status")),
    )
    if rebuild_summary:
        _rebuild_summary(report)
    return report


def _rebuild_summary(report: StoreCheck) -> None:
    out = report.path
    if report.damaged:
        report.summary_refused = f"{len(report.damaged)} damaged run folder(s); remake them with --resume first"
    elif not (out / store.DESIGN).is_file():
        report.summary_refused = f"no {store.DESIGN} (no run was started)"
    else:
        with store.FolderLock(out):  # not while a sweep writes the folder
            report.summary_rebuilt = summary_table.write(out)


def current_code_differences(out: str | Path, run_fn: str | None = None) -> list[str]:
    """What differs between this process's code and the code of the store's latest session."""
    from aimarket.experiments.sweeps.session import latest_code

    manifest = store.read_manifest(Path(out)) or {}
    return code_identity.differences(latest_code(manifest), code_identity.code_identity(run_fn))


__all__ = ["StoreCheck", "check_store", "current_code_differences"]
