"""Options of ``aimarket sweep --slurm``: defaults, the ``[slurm]`` sections and their validation.

Where a value comes from, first match wins:

1. the command line (``--slurm-jobs``, ``--slurm-walltime``, ...) or the keyword arguments of
   :func:`experiments.sweep` (``slurm={"jobs": 8, ...}``);
2. the ``[slurm]`` section of the experiment file;
3. the ``[slurm]`` section of the user configuration file: ``$AIMARKET_CONFIG`` if set, else
   ``$XDG_CONFIG_HOME/aimarket/config.toml`` (``~/.config/aimarket/config.toml``);
4. the defaults below.

A ``[slurm]`` section (keys as in :class:`SlurmOptions`)::

    [slurm]
    jobs = 16                    # SLURM jobs, each one single-threaded Dask worker process
    walltime = "04:00:00"        # per job (HH:MM:SS, MM:SS or D-HH:MM:SS)
    memory = "2GB"               # per job (a default run peaks near 330 MB)
    queue = "compute"            # partition (#SBATCH -p)
    account = "myproject"        # #SBATCH -A
    interface = "ib0"            # network interface the Dask scheduler and workers bind to
    numba_cache = "/shared/me/numba-cache"   # shared folder for compiled kernels
    prologue = ["module load python/3.11"]   # shell lines run in each job before the worker
    sbatch = ["--qos=short"]     # extra #SBATCH directives

The section never changes what runs are made: it is not part of the sweep's identity.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from aimarket.simulation.errors import UserInputError

DEFAULT_JOBS = 4
DEFAULT_WALLTIME = "01:00:00"
DEFAULT_MEMORY = "2GB"
_WALLTIME = re.compile(r"^(?:(?:(\d+)-)?(\d{1,3}):)?(\d{1,2}):(\d{2})$")
_MEMORY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]i?B|[KMGT])\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class SlurmOptions:
    """Settings of the Dask-on-SLURM backend (see the module docstring for where they come from).

    jobs: SLURM jobs to keep running (each holds one single-threaded Dask worker process).
    walltime: time limit of each job, ``HH:MM:SS``; workers retire before it (see :func:`lifetime`).
    memory: memory of each job and its worker's limit, e.g. ``"2GB"``.
    queue, account: the SLURM partition and account (None: the cluster's defaults).
    interface: network interface the Dask scheduler (on this machine) and the workers bind to,
        e.g. ``"ib0"``; ``"lo"`` only when every job runs on this machine.
    numba_cache: folder for numba's compiled kernels, shared by every worker
        (None: ``DIR/.slurm/numba-cache`` inside the results folder).
    prologue: shell lines each job runs before starting its worker (``module load ...``).
    sbatch: extra ``#SBATCH`` directives, e.g. ``"--qos=short"``.
    """

    jobs: int = DEFAULT_JOBS
    walltime: str = DEFAULT_WALLTIME
    memory: str = DEFAULT_MEMORY
    queue: str | None = None
    account: str | None = None
    interface: str | None = None
    numba_cache: str | None = None
    prologue: tuple[str, ...] = field(default_factory=tuple)
    sbatch: tuple[str, ...] = field(default_factory=tuple)

    @property
    def walltime_seconds(self) -> int:
        return parse_walltime(self.walltime, "walltime")

    def lifetime(self) -> tuple[int, int]:
        """(lifetime, stagger) of each worker in seconds: a worker retires gracefully after
        ``lifetime`` +- ``stagger`` seconds, before SLURM kills its job, and a fresh job replaces it.

        The margin before the walltime is 10 % of it, at least 60 s and at most 10 min, and
        the stagger 5 % of it, at most 5 min, so workers do not all leave at once.
        """
        wall = self.walltime_seconds
        margin = min(600, max(60, wall // 10))
        stagger = min(300, wall // 20)
        return wall - margin - stagger, stagger


KEYS = tuple(f.name for f in fields(SlurmOptions))


def parse_walltime(text: Any, where: str) -> int:
    """Seconds of a SLURM time limit ``[D-]HH:MM:SS`` or ``MM:SS``; at least 2 minutes."""
    m = _WALLTIME.match(str(text).strip()) if isinstance(text, str) else None
    if m and (int(m.group(4)) > 59 or (m.group(2) is not None and int(m.group(3)) > 59)):
        m = None
    if not m:
        raise UserInputError(f"{where}: must be a SLURM time HH:MM:SS, MM:SS or D-HH:MM:SS (got {text!r})")
    days, hours, minutes, seconds = (int(g) if g else 0 for g in m.groups())
    total = ((days * 24 + hours) * 60 + minutes) * 60 + seconds
    if total < 120:
        raise UserInputError(f"{where}: must be at least 00:02:00, so workers can retire before it (got {text!r})")
    return total


def _check_memory(text: Any, where: str) -> str:
    if not isinstance(text, str) or not _MEMORY.match(text):
        raise UserInputError(f"{where}: must be a size such as 2GB, 1500MB or 4GiB (got {text!r})")
    from dask.utils import parse_bytes

    if parse_bytes(text) < 256 * 2**20:
        raise UserInputError(f"{where}: must be at least 256MB (a default run peaks near 330 MB; got {text!r})")
    return text.strip()


def _check_jobs(value: Any, where: str) -> int:
    if isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            pass
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UserInputError(f"{where}: must be an integer >= 1 (got {value!r})")
    return value


def _check_text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip() or any(c.isspace() for c in value.strip()):
        raise UserInputError(f"{where}: must be a non-empty name without spaces (got {value!r})")
    return value.strip()


def _check_path(value: Any, where: str) -> str:
    if not isinstance(value, str | Path) or not str(value).strip():
        raise UserInputError(f"{where}: must be a folder path (got {value!r})")
    return str(value)


def _check_lines(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise UserInputError(f"{where}: must be a list of strings (got {value!r})")
    return tuple(value)


_CHECKS = {
    "jobs": _check_jobs,
    "walltime": lambda v, w: (parse_walltime(v, w), str(v).strip())[1],
    "memory": _check_memory,
    "queue": _check_text,
    "account": _check_text,
    "interface": _check_text,
    "numba_cache": lambda v, w: str(Path(_check_path(v, w)).expanduser()),
    "prologue": _check_lines,
    "sbatch": _check_lines,
}


def check_value(key: str, value: Any, where: str) -> Any:
    """One setting, validated (``where`` names it in the error: ``--slurm-jobs``, ``slurm.jobs``)."""
    return _CHECKS[key](value, where)


def parse_section(raw: Any, where: str) -> dict[str, Any]:
    """Validate a ``[slurm]`` table (from a file or the API); returns the keys it sets."""
    if not isinstance(raw, dict):
        raise UserInputError(f"{where}: must be a table of SLURM settings (allowed keys: {', '.join(KEYS)})")
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in _CHECKS:
            raise UserInputError(f"{where}.{key}: unknown key (allowed: {', '.join(KEYS)})")
        if value is not None:
            out[key] = _CHECKS[key](value, f"{where}.{key}")
    return out


def user_config_path() -> Path:
    """``$AIMARKET_CONFIG``, else ``$XDG_CONFIG_HOME/aimarket/config.toml`` (``~/.config/...``)."""
    explicit = os.environ.get("AIMARKET_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "aimarket" / "config.toml"


def read_user_section() -> dict[str, Any]:
    """The validated ``[slurm]`` section of the user configuration file ({} if there is none)."""
    path = user_config_path()
    if not path.is_file():
        if os.environ.get("AIMARKET_CONFIG"):
            raise UserInputError(f"AIMARKET_CONFIG: file not found: {path}")
        return {}
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UserInputError(f"{path}: not a readable TOML file ({exc})") from None
    return parse_section(raw.get("slurm", {}), f"{path.name}: slurm")


def resolve(given: Any, experiment_raw: dict | None, experiment_name: str = "experiment") -> SlurmOptions:
    """The options of one sweep: ``given`` (True, a dict of keys or a :class:`SlurmOptions`) over the
    experiment file's ``[slurm]`` section over the user configuration over the defaults."""
    layers = [read_user_section()]
    if experiment_raw and "slurm" in experiment_raw:
        layers.append(parse_section(experiment_raw["slurm"], f"{experiment_name}: slurm"))
    if isinstance(given, SlurmOptions):  # complete settings: validated, no layers under them
        return SlurmOptions(**parse_section({k: getattr(given, k) for k in KEYS}, "slurm"))
    if isinstance(given, dict):
        layers.append(parse_section({k: v for k, v in given.items() if v is not None}, "slurm"))
    elif given is not True:
        raise UserInputError(f"slurm: must be True, a dict of SLURM settings or SlurmOptions (got {given!r})")
    options = SlurmOptions()
    for layer in layers:
        options = replace(options, **layer)
    options.walltime_seconds  # noqa: B018 - validated again after merging
    return options
