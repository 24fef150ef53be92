"""Run folders of a results store: written atomically, listed in a file manifest, verified on resume.

A finished run is the folder ``runs/run_id=NNNNN/`` holding::

    summary.json, timeseries.parquet, labs.parquet   the kept outputs
    _files.json     {"run_id", "seed", "code": <code identity>, "files": {name: {"bytes", "sha256"}}}
    _SUCCESS        written last: the SHA-256 (hex) of _files.json's bytes and a newline

The files are written (and fsync'ed) into a hidden temporary folder ``runs/.run_id=NNNNN.tmp-PID`` and
the folder is renamed into place with one ``os.rename``, so a run folder either exists complete or not
at all. A folder damaged afterwards (an interrupted ``rsync`` copies ``_SUCCESS`` first; a disk
error; an edit) fails :func:`verify_run`: sizes are always compared, SHA-256 hashes on request.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path

from aimarket.simulation.errors import EnvironmentFault

RUNS = "runs"
SUCCESS = "_SUCCESS"
FILES = "_files.json"
RUN_DIR = re.compile(r"^run_id=(\d+)$")


def run_dir_name(run_id: int) -> str:
    return f"run_id={run_id:05d}"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_file(path: Path, data: bytes, fsync: bool = True) -> None:
    """Write ``data`` to ``path`` (synced); an OSError becomes one line naming the file."""
    try:
        with open(path, "wb") as fh:
            fh.write(data)
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())
    except OSError as exc:
        raise EnvironmentFault(f"cannot write {path}: {exc.strerror or exc}") from exc


def file_manifest(run_id: int, seed: int | None, files: dict[str, bytes], code: dict | None) -> bytes:
    """The bytes of a run's ``_files.json`` (sorted keys: the same files give the same bytes)."""
    record = {
        "run_id": run_id,
        "seed": seed,
        "code": code,
        "files": {name: {"bytes": len(data), "sha256": _sha256(data)} for name, data in sorted(files.items())},
    }
    return (json.dumps(record, sort_keys=True, indent=2) + "\n").encode()


def commit_run(
    out: Path,
    run_id: int,
    files: dict[str, bytes],
    fsync: bool = True,
    *,
    seed: int | None = None,
    code: dict | None = None,
) -> Path:
    """Write one finished run's ``files`` ({name: bytes}) atomically as ``runs/run_id=NNNNN/``, with
    its ``_files.json`` and, last, ``_SUCCESS``. An existing complete folder is kept."""
    runs = Path(out) / RUNS
    final = runs / run_dir_name(run_id)
    tmp = runs / f".{run_dir_name(run_id)}.tmp-{os.getpid()}"
    try:
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
        for name in sorted(files):
            write_file(tmp / name, files[name], fsync)
        listing = file_manifest(run_id, seed, files, code)
        write_file(tmp / FILES, listing, fsync)
        write_file(tmp / SUCCESS, (_sha256(listing) + "\n").encode(), fsync)
        if final.exists():
            if verify_run(final) is None:  # already complete (same run): keep it
                shutil.rmtree(tmp)
                return final
            shutil.rmtree(final)  # an incomplete or damaged folder: replace it
        os.rename(tmp, final)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        name = str(exc.filename or final).replace(str(tmp), str(final))
        raise EnvironmentFault(f"cannot write {name}: {exc.strerror or exc}") from exc
    except EnvironmentFault as exc:  # name the file by its final path, not the temporary folder's
        shutil.rmtree(tmp, ignore_errors=True)
        raise EnvironmentFault(str(exc).replace(str(tmp), str(final))) from exc
    return final


def _read_listing(folder: Path) -> tuple[dict | None, str | None]:
    try:
        success = (folder / SUCCESS).read_bytes()
        listing = (folder / FILES).read_bytes()
    except FileNotFoundError as exc:
        return None, f"{Path(exc.filename).name} is missing"
    except OSError as exc:
        return None, f"cannot read {exc.filename}: {exc.strerror}"
    if success.strip().decode("ascii", "replace") != _sha256(listing):
        return None, f"{SUCCESS} does not hold the hash of {FILES}"
    try:
        record = json.loads(listing)
    except (ValueError, UnicodeDecodeError):
        return None, f"{FILES} is not valid JSON"
    if not isinstance(record, dict) or not isinstance(record.get("files"), dict):
        return None, f"{FILES} is not a file list"
    return record, None


def verify_run(folder: Path, hashes: bool = False) -> str | None:
    """None if the run folder is complete and matches its ``_files.json`` (sizes; SHA-256 too with
    ``hashes``), else a short reason such as ``"summary.json is 17 bytes, 812 expected"``."""
    folder = Path(folder)
    record, problem = _read_listing(folder)
    if problem is not None:
        return problem
    listed = record["files"]
    if "summary.json" not in listed:
        return f"summary.json is not listed in {FILES}"
    for name, entry in sorted(listed.items()):
        path = folder / name
        if not isinstance(entry, dict) or "/" in name or name.startswith("."):
            return f"{FILES} has an invalid entry for {name!r}"
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            return f"{name} is missing"
        except OSError as exc:
            return f"cannot read {name}: {exc.strerror}"
        if size != entry.get("bytes"):
            return f"{name} is {size} bytes, {entry.get('bytes')} expected"
        if hashes:
            try:
                digest = _sha256(path.read_bytes())
            except OSError as exc:
                return f"cannot read {name}: {exc.strerror}"
            if digest != entry.get("sha256"):
                return f"{name} does not match its SHA-256"
    return None


def run_folders(out: Path) -> dict[int, Path]:
    """Every ``runs/run_id=NNNNN`` folder of the store ``out``, finished or not, by run id."""
    runs = Path(out) / RUNS
    found: dict[int, Path] = {}
    if runs.is_dir():
        for entry in os.scandir(runs):
            m = RUN_DIR.match(entry.name)
            if m and entry.is_dir():
                found[int(m.group(1))] = Path(entry.path)
    return found


def completed_runs(out: Path) -> set[int]:
    """Run ids whose folder holds ``_SUCCESS`` (fast; :func:`verify_runs` checks them)."""
    return {rid for rid, path in run_folders(out).items() if os.path.exists(path / SUCCESS)}


def verify_runs(out: Path, hashes: bool = False) -> tuple[set[int], dict[int, str]]:
    """(run ids whose folder verifies, {run id: reason} for folders with ``_SUCCESS`` that do not)."""
    good: set[int] = set()
    bad: dict[int, str] = {}
    for rid in sorted(completed_runs(out)):
        problem = verify_run(Path(out) / RUNS / run_dir_name(rid), hashes)
        if problem is None:
            good.add(rid)
        else:
            bad[rid] = problem
    return good, bad


def is_partial(name: str) -> bool:
    """Whether ``name`` is a temporary file or folder of an interrupted write: a run folder's
    ``.run_id=NNNNN.tmp-PID`` or an atomic write's ``.<file>.<random>.tmp`` (e.g. ``.manifest.json.x.tmp``)."""
    return name.startswith(".") and (".tmp-" in name or name.endswith(".tmp"))


def clean_partial(out: Path, remove: set[int] = frozenset()) -> int:
    """Delete temporary files and folders, run folders without ``_SUCCESS`` and the run folders in
    ``remove`` (those that failed verification); returns how many entries were deleted."""
    out = Path(out)
    removed = 0
    for folder in (out, out / RUNS):
        if not folder.is_dir():
            continue
        for entry in list(os.scandir(folder)):
            m = RUN_DIR.match(entry.name)
            stale = bool(m) and entry.is_dir() and (
                int(m.group(1)) in remove or not os.path.exists(os.path.join(entry.path, SUCCESS))
            )
            if is_partial(entry.name) or stale:
                if entry.is_dir(follow_symlinks=False):
                    shutil.rmtree(entry.path)
                else:
                    os.unlink(entry.path)
                removed += 1
    return removed


def partial_entries(out: Path) -> list[str]:
    """Temporary entries an interrupted write left in ``out`` and ``out/runs`` (relative names)."""
    out = Path(out)
    names = []
    for folder in (out, out / RUNS):
        if folder.is_dir():
            names += [(folder / e.name).relative_to(out).as_posix() for e in os.scandir(folder) if is_partial(e.name)]
    return sorted(names)


def run_code(out: Path, run_id: int) -> dict | None:
    """The code identity recorded in a run folder's ``_files.json`` (None if absent)."""
    try:
        record = json.loads((Path(out) / RUNS / run_dir_name(run_id) / FILES).read_bytes())
    except (OSError, ValueError):
        return None
    return record.get("code") if isinstance(record, dict) else None


def describe_bad(bad: dict[int, str], limit: int = 3) -> str:
    """``run_id=00003 (summary.json is 5 bytes, 812 expected), ...`` for the first ``limit`` entries."""
    items = [f"{run_dir_name(rid)} ({why})" for rid, why in sorted(bad.items())[:limit]]
    more = len(bad) - limit
    return ", ".join(items) + (f" and {more} more" if more > 0 else "")


__all__ = [
    "commit_run",
    "completed_runs",
    "verify_run",
    "verify_runs",
    "clean_partial",
    "partial_entries",
    "run_dir_name",
    "run_code",
    "describe_bad",
]
