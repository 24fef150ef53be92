"""The results store of a sweep: a folder that holds every finished run and how it was made.

Layout of ``DIR``::

    DIR/manifest.json           the experiment, resolved base scenario, versions, git, seeds, sampler,
                                backend, sessions (start/end times) and failed runs with their errors
    DIR/design.parquet          run_id, point, replication, one column per factor, seed
    DIR/failures.json           failed runs of the latest session: run_id, seed, error, traceback
    DIR/runs/run_id=00000/      one folder per *finished* run (a hive partition):
        timeseries.parquet      one row per step (if kept)
        labs.parquet            one row per step x lab x task type (if kept)
        summary.json            headline numbers of the run
        _SUCCESS                written last: the run is complete

Atomicity: a run's files are written (and fsync'ed) into a hidden temporary folder
``runs/.run_id=00000.tmp-PID`` next to the final one, ``_SUCCESS`` last, and the folder is then
renamed into place with one ``os.rename``. A run folder therefore either exists complete or not
at all; a sweep killed at any moment (SIGKILL included) leaves at most a hidden temporary folder,
which the next ``--resume`` deletes. Every other file (manifest, design, failures) is written to a
temporary name in the same folder and ``os.replace``'d. Readers skip names starting with ``.`` or
``_`` (pyarrow's default), so ``pyarrow.dataset`` sees only complete runs.

Determinism: a run's Parquet bytes depend only on its table (pyarrow embeds no timestamp), and
summary.json is written with sorted keys, so the same run gives the same bytes on any executor.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
from functools import cached_property
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from simulation import outputs
from simulation.errors import ExperimentError, UserInputError

MANIFEST = "manifest.json"
DESIGN = "design.parquet"
FAILURES = "failures.json"
RUNS = "runs"
SUCCESS = "_SUCCESS"
_RUN_DIR = re.compile(r"^run_id=(\d+)$")
_PACKAGES = (
    "aimarket",
    "numpy",
    "numba",
    "mesa",
    "pyarrow",
    "pydantic",
    "scipy",
    "SALib",
    "dask",
    "distributed",
    "pandas",
    "tqdm",
)


# ----------------------------------------------------------------------------- byte-level writing


def parquet_bytes(table: pa.Table) -> bytes:
    """Serialise ``table`` to Parquet bytes deterministically (same table, same bytes)."""
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue().to_pybytes()


def _json_default(obj: Any):
    import numpy as np

    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "isoformat"):  # TOML dates and times
        return obj.isoformat()
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json")
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def json_bytes(obj: Any) -> bytes:
    """Serialise ``obj`` to JSON deterministically (sorted keys, two-space indent, final newline)."""
    return (json.dumps(obj, sort_keys=True, indent=2, default=_json_default) + "\n").encode()


def _fsync_write(path: Path, data: bytes, fsync: bool = True) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
        if fsync:
            fh.flush()
            os.fsync(fh.fileno())


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder (synced) and ``os.replace``."""
    outputs.atomic_write(Path(path), lambda tmp: _fsync_write(tmp, data))


# ----------------------------------------------------------------------------- run folders


def run_dir_name(run_id: int) -> str:
    return f"run_id={run_id:05d}"


def commit_run(out: Path, run_id: int, files: dict[str, bytes], fsync: bool = True) -> Path:
    """Write one finished run's ``files`` ({name: bytes}) atomically as ``runs/run_id=NNNNN/``."""
    runs = Path(out) / RUNS
    final = runs / run_dir_name(run_id)
    tmp = runs / f".{run_dir_name(run_id)}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    for name in sorted(files):
        _fsync_write(tmp / name, files[name], fsync)
    _fsync_write(tmp / SUCCESS, b"", fsync)
    if final.exists():
        if (final / SUCCESS).exists():  # already complete (same run, same bytes): keep it
            shutil.rmtree(tmp)
            return final
        shutil.rmtree(final)  # an incomplete folder (not made by us): replace it
    os.rename(tmp, final)
    return final


def completed_runs(out: Path) -> set[int]:
    """Run ids whose folder is complete (holds ``_SUCCESS``)."""
    runs = Path(out) / RUNS
    done = set()
    if runs.is_dir():
        for entry in os.scandir(runs):
            m = _RUN_DIR.match(entry.name)
            if m and entry.is_dir() and os.path.exists(os.path.join(entry.path, SUCCESS)):
                done.add(int(m.group(1)))
    return done


def clean_partial(out: Path) -> int:
    """Delete temporary files and folders and run folders without ``_SUCCESS``; returns how many."""
    out = Path(out)
    removed = 0
    for folder in (out, out / RUNS):
        if not folder.is_dir():
            continue
        for entry in list(os.scandir(folder)):
            incomplete = (
                _RUN_DIR.match(entry.name)
                and entry.is_dir()
                and not os.path.exists(os.path.join(entry.path, SUCCESS))
            )
            if (".tmp-" in entry.name and entry.name.startswith(".")) or incomplete:
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path)
                else:
                    os.unlink(entry.path)
                removed += 1
    return removed


# ----------------------------------------------------------------------------- provenance


def package_versions() -> dict[str, str | None]:
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str | None] = {"python": sys.version.split()[0]}
    for name in _PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def git_state(path: Path | None = None) -> dict[str, Any]:
    """Commit and dirty flag (tracked files modified) of the git checkout holding the code."""
    path = path or Path(__file__).resolve().parent.parent

    def git(*args: str) -> str | None:
        try:
            res = subprocess.run(["git", *args], cwd=path, capture_output=True, text=True, timeout=20)
        except (OSError, subprocess.SubprocessError):
            return None
        return res.stdout.strip() if res.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no") if commit else None
    return {"commit": commit, "dirty": None if status is None else bool(status)}


def read_manifest(out: Path) -> dict | None:
    path = Path(out) / MANIFEST
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ExperimentError(f"{path}: unreadable manifest ({exc})") from None


def write_manifest(out: Path, manifest: dict) -> None:
    atomic_write(Path(out) / MANIFEST, json_bytes(manifest))


# ----------------------------------------------------------------------------- loading


def _flatten_summary(summary: dict, prefix: str = "") -> dict[str, Any]:
    """Scalar entries of a summary, small dicts flattened to ``key.sub``; the scenario is skipped."""
    row: dict[str, Any] = {}
    for key, value in summary.items():
        if not prefix and key == "scenario":
            continue
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            row.update(_flatten_summary(value, name + "."))
        elif value is None or isinstance(value, bool | int | float | str):
            row[name] = value
    return row


def read_summary(out: Path, run_id: int) -> dict:
    return json.loads((Path(out) / RUNS / run_dir_name(run_id) / "summary.json").read_text())


class SweepResults:
    """The tidy tables of a sweep folder (pandas DataFrames), for notebooks.

    design: one row per run of the design (finished or not): run_id, point, replication, factor
        columns named by their dotted scenario keys, seed, and ``status`` (done, failed, missing).
    summary: one row per finished run: the design columns joined to the scalar entries of
        summary.json (small dicts flattened to ``key.sub``, the scenario left out).
    timeseries: one row per finished run x step: design columns joined to timeseries.parquet.
    labs: one row per finished run x step x lab x task type (only if the sweep kept "labs").
    manifest: the manifest dict; failures: failed runs (run_id, seed, error).
    Tables are read when first used.
    """

    def __init__(self, out: str | Path):
        self.path = Path(out)
        manifest = read_manifest(self.path)
        if manifest is None or not (self.path / DESIGN).is_file():
            raise UserInputError(f"{self.path}: not a sweep folder (no {MANIFEST} or {DESIGN})")
        self.manifest = manifest
        self.done = sorted(completed_runs(self.path))

    def __repr__(self) -> str:
        n = self.manifest.get("n_runs")
        return f"SweepResults({str(self.path)!r}, {len(self.done)}/{n} runs done)"

    @cached_property
    def failures(self):
        import pandas as pd

        failed = self.manifest.get("failed_runs", [])
        return pd.DataFrame(failed, columns=["run_id", "seed", "error", "attempts"])

    @cached_property
    def design(self):
        df = pq.read_table(self.path / DESIGN).to_pandas()
        failed = {f["run_id"] for f in self.manifest.get("failed_runs", [])}
        done = set(self.done)
        df["status"] = ["done" if r in done else "failed" if r in failed else "missing" for r in df["run_id"]]
        return df

    def _design_done(self):
        d = self.design
        return d[d["status"] == "done"].drop(columns=["status"])

    @cached_property
    def summary(self):
        import pandas as pd

        rows = [{"run_id": rid, **_flatten_summary(read_summary(self.path, rid))} for rid in self.done]
        summ = pd.DataFrame(rows, columns=None if rows else ["run_id"])
        summ = summ.drop(columns=[c for c in ("seed",) if c in summ.columns])
        return self._design_done().merge(summ, on="run_id", how="inner")

    def _table(self, name: str):
        import pandas as pd

        files = [self.path / RUNS / run_dir_name(r) / f"{name}.parquet" for r in self.done]
        files = [f for f in files if f.is_file()]
        if not files:
            return None if name == "labs" else pd.DataFrame(columns=list(self._design_done().columns))
        tables = []
        for f in files:
            t = pq.read_table(f)
            rid = int(_RUN_DIR.match(f.parent.name).group(1))
            tables.append(t.add_column(0, "run_id", pa.array([rid] * t.num_rows, pa.int64())))
        table = pa.concat_tables(tables, promote_options="default")
        return self._design_done().merge(table.to_pandas(), on="run_id", how="inner")

    @cached_property
    def timeseries(self):
        return self._table("timeseries")

    @cached_property
    def labs(self):
        return self._table("labs")


def load(out: str | Path) -> SweepResults:
    """Open the sweep folder ``out`` (see :class:`SweepResults`)."""
    return SweepResults(out)


def summary_value(value: Any) -> float:
    """A summary entry as a float (NaN for null)."""
    if value is None:
        return math.nan
    return float(value)


def is_nonempty(folder: Path) -> bool:
    """Whether ``folder`` holds anything but hidden entries and an empty ``runs`` folder."""
    if not folder.is_dir():
        return False
    for entry in os.scandir(folder):
        if entry.name.startswith("."):
            continue
        if (
            entry.name == RUNS
            and entry.is_dir()
            and not any(not e.name.startswith(".") for e in os.scandir(entry.path))
        ):
            continue
        return True
    return False


class FolderLock:
    """An exclusive ``flock`` on ``DIR/.lock`` so that two sweeps never write one folder at once.

    The operating system releases it when the process dies (SIGKILL included). On file systems
    without ``flock`` support the lock is skipped.
    """

    def __init__(self, folder: Path):
        self.path = Path(folder) / ".lock"
        self.fh = None

    def __enter__(self) -> FolderLock:
        import fcntl

        self.fh = open(self.path, "a+")
        try:
            fcntl.flock(self.fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.fh.seek(0)
            holder = self.fh.read().strip() or "?"
            self.fh.close()
            raise ExperimentError(
                f"--out {self.path.parent}: another sweep (pid {holder}) is writing this folder"
            ) from None
        except OSError:
            return self  # no flock on this file system
        self.fh.seek(0)
        self.fh.truncate()
        self.fh.write(str(os.getpid()))
        self.fh.flush()
        return self

    def __exit__(self, *exc) -> None:
        if self.fh is not None and not self.fh.closed:
            self.fh.close()


__all__ = [
    "load",
    "SweepResults",
    "commit_run",
    "completed_runs",
    "clean_partial",
    "parquet_bytes",
    "json_bytes",
    "atomic_write",
    "read_manifest",
    "write_manifest",
]
