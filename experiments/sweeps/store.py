"""The results store of a sweep: a folder that holds every finished run and how it was made.

Layout of ``DIR``::

    DIR/manifest.json           the experiment, resolved base scenario, versions, git, seeds, sampler,
                                backend, sessions (start/end times) and failed runs with their errors
    DIR/design.parquet          run_id, point, replication, one column per factor, seed
    DIR/summary.parquet         one row per finished run: design columns and summary scalars
                                (:mod:`aimarket.experiments.sweeps.summary_table`)
    DIR/failures.json           failed runs of the latest session: run_id, seed, error, traceback
    DIR/runs/run_id=00000/      one folder per *finished* run (a hive partition):
        timeseries.parquet      one row per step (if kept)
        labs.parquet            one row per step x lab x task type (if kept)
        summary.json            headline numbers of the run
        _files.json             every file above with its size and SHA-256, and the code identity
        _SUCCESS                written last: the SHA-256 of _files.json

Atomicity (see :mod:`aimarket.experiments.sweeps.run_folders`): a run's files are written (and fsync'ed) into a hidden
temporary folder ``runs/.run_id=00000.tmp-PID`` next to the final one, ``_SUCCESS`` last, and the folder is then
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
import sys
from functools import cached_property
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from aimarket.experiments.sweeps import code_identity
from aimarket.experiments.sweeps.run_folders import (
    RUN_DIR as _RUN_DIR,
)
from aimarket.experiments.sweeps.run_folders import (
    RUNS,
    SUCCESS,
    clean_partial,
    commit_run,
    completed_runs,
    describe_bad,
    run_dir_name,
    verify_runs,
    write_file,
)
from aimarket.simulation import outputs
from aimarket.simulation.errors import EnvironmentFault, ExperimentError, StoreError, UserInputError
from aimarket.simulation.output_folders import FileLock

MANIFEST = "manifest.json"
DESIGN = "design.parquet"
FAILURES = "failures.json"
#: Keys every manifest has, with their JSON types (a manifest without them is corrupt).
_MANIFEST_KEYS = {"identity": dict, "n_runs": int, "sessions": list, "failed_runs": list}
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


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder (synced) and ``os.replace``."""
    outputs.atomic_write(Path(path), lambda tmp: write_file(tmp, data))


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
    return code_identity.git_state(path)


def read_manifest(out: Path) -> dict | None:
    """The store's manifest (None if there is none); a corrupt one is a one-line :class:`StoreError`."""
    path = Path(out) / MANIFEST
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError:
        raise StoreError(f"{path}: corrupt manifest (not UTF-8 text)") from None
    except json.JSONDecodeError as exc:
        raise StoreError(f"{path}: corrupt manifest (not valid JSON: {exc.msg} at line {exc.lineno})") from None
    except OSError as exc:
        raise EnvironmentFault(f"{path}: cannot read ({exc.strerror})") from None
    if not isinstance(manifest, dict):
        raise StoreError(f"{path}: corrupt manifest (a JSON {type(manifest).__name__}, not an object)")
    for key, kind in _MANIFEST_KEYS.items():
        if not isinstance(manifest.get(key), kind):
            raise StoreError(f"{path}: corrupt manifest ('{key}' is missing or not a {kind.__name__})")
    return manifest


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


def verified_runs(out: Path) -> set[int]:
    """Run ids of the finished runs, every one checked against its file list (sizes); a damaged run
    folder is a one-line :class:`StoreError` that says how to remake it."""
    good, bad = verify_runs(out)
    if bad:
        raise StoreError(
            f"{out}: {len(bad)} finished run folder(s) are damaged: {describe_bad(bad)}; "
            "run the sweep again with --resume to remake them"
        )
    return good


def read_summary(out: Path, run_id: int) -> dict:
    path = Path(out) / RUNS / run_dir_name(run_id) / "summary.json"
    try:
        summary = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise StoreError(
            f"{path}: damaged (not a JSON summary); check the store with 'aimarket sweep --check "
            f"{out} --verify' and remake damaged runs with --resume"
        ) from None
    except OSError as exc:
        raise EnvironmentFault(f"{path}: cannot read ({exc.strerror})") from None
    if not isinstance(summary, dict):
        raise StoreError(f"{path}: damaged (a JSON {type(summary).__name__}, not a summary object)")
    return summary


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
        self.done = sorted(verified_runs(self.path))

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


class FolderLock(FileLock):
    """An exclusive ``flock`` on ``DIR/.lock`` so that two sweeps never write one folder at once.

    The operating system releases it when the process dies (SIGKILL included). On file systems
    without ``flock`` support the lock is skipped.
    """

    def __init__(self, folder: Path):
        super().__init__(Path(folder) / ".lock", f"--out {folder}: another sweep (pid {{pid}}) is writing this folder",
                         ExperimentError)


__all__ = [
    "RUNS",
    "SUCCESS",
    "run_dir_name",
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
