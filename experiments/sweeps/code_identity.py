"""Which code makes a sweep's runs: package version, git commit and dirty state of the model code, a hash
of its source files, and the run function.

A results folder must never combine runs made by different code without saying so. The *code identity*
of a session is::

    {"version": "0.1.0",                       # the installed aimarket distribution
     "commit": "048e014...",                   # last git commit touching the model code (None: no git)
     "dirty": false,                           # uncommitted edits to the model code (None: no git)
     "source_sha256": "9f2c...",               # SHA-256 over every .py file of simulation/ and agents/
     "run_fn": "aimarket.simulation.run:simulate",      # the function that makes one run
     "run_fn_sha256": "c0de..."}               # SHA-256 of the run function's module file

The source hash is what catches an edit made while the checkout is already dirty, and it is the whole
record when the package is installed without git. ``--resume`` compares the current identity with the
one of the folder's latest session and refuses on any difference (see :func:`differences`), unless
``--allow-code-change`` is given.
"""

from __future__ import annotations

import hashlib
import importlib.util
import subprocess
from pathlib import Path
from typing import Any

#: The model code: the folders whose Python files decide what a run computes.
MODEL_PACKAGES = ("simulation", "agents")
DEFAULT_RUN_FN = "aimarket.simulation.run:simulate"
_ROOT = Path(__file__).resolve().parents[2]  # the repository, or site-packages/aimarket once installed


def package_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("aimarket")
    except PackageNotFoundError:
        return None


def _git(root: Path, *args: str) -> str | None:
    try:
        res = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return None
    return res.stdout.strip() if res.returncode == 0 else None


def git_state(root: Path | None = None, paths: tuple[str, ...] = ()) -> dict[str, Any]:
    """Last commit touching ``paths`` (everything when empty) and whether tracked files among them have
    uncommitted changes; both None when ``root`` is not inside a git checkout."""
    root = Path(root or _ROOT)
    if _git(root, "rev-parse", "HEAD") is None:
        return {"commit": None, "dirty": None}
    commit = _git(root, "log", "-1", "--format=%H", "--", *paths) if paths else _git(root, "rev-parse", "HEAD")
    status = _git(root, "status", "--porcelain", "--untracked-files=no", "--", *paths)
    return {"commit": commit or None, "dirty": None if status is None else bool(status)}


def source_hash(root: Path | None = None, packages: tuple[str, ...] = MODEL_PACKAGES) -> str:
    """SHA-256 over the relative path and bytes of every ``.py`` file under ``root/<package>``."""
    root = Path(root or _ROOT)
    digest = hashlib.sha256()
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            digest.update(path.relative_to(root).as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _module_hash(run_fn: str) -> str | None:
    module = run_fn.partition(":")[0]
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    origin = getattr(spec, "origin", None) if spec is not None else None
    if not origin or not Path(origin).is_file():
        return None
    return hashlib.sha256(Path(origin).read_bytes()).hexdigest()


def code_identity(run_fn: str | None = None) -> dict[str, Any]:
    """The code identity of this process for runs made by ``run_fn`` (default ``simulate``)."""
    run_fn = run_fn or DEFAULT_RUN_FN
    git = git_state(_ROOT, tuple(p for p in MODEL_PACKAGES if (_ROOT / p).is_dir()))
    return {
        "version": package_version(),
        "commit": git["commit"],
        "dirty": git["dirty"],
        "source_sha256": source_hash(),
        "run_fn": run_fn,
        "run_fn_sha256": _module_hash(run_fn),
    }


def _short(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "none" if value is None else str(value).lower()
    text = str(value)
    return text[:12] if len(text) == 40 or len(text) == 64 else text


def differences(old: dict | None, new: dict) -> list[str]:
    """What differs between two code identities, as ``"commit 048e014ab2cd -> 5d1f..."`` items."""
    old = old if isinstance(old, dict) else {}
    return [
        f"{key} {_short(old.get(key))} -> {_short(new.get(key))}"
        for key in new
        if old.get(key) != new.get(key)
    ]


__all__ = ["code_identity", "differences", "git_state", "source_hash", "package_version"]
