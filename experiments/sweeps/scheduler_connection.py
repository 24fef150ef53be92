"""Connect to a Dask scheduler within a time limit, with one-line errors.

``--scheduler ADDRESS`` and ``--scheduler-file FILE`` both end here. Nothing waits forever: a scheduler
file that does not appear (or stays invalid) and a scheduler that does not answer are reported after
``timeout`` seconds (``--connect-timeout``, default :data:`DEFAULT_TIMEOUT`), as an
:class:`~aimarket.simulation.errors.EnvironmentFault` (exit status 1) or, for an address or file that can never
work, a :class:`~aimarket.simulation.errors.UserInputError` (exit status 2).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from aimarket.simulation.errors import EnvironmentFault, UserInputError

DEFAULT_TIMEOUT = 10.0  # seconds
_POLL = 0.2  # seconds between looks at a scheduler file


def parse_timeout(text) -> float:
    """The ``--connect-timeout`` option: a number of seconds > 0."""
    try:
        value = float(str(text).strip())
    except ValueError:
        raise UserInputError(f"--connect-timeout: must be a number of seconds > 0 (got {text!r})") from None
    if not value > 0 or value == float("inf"):
        raise UserInputError(f"--connect-timeout: must be a number of seconds > 0 (got {text!r})")
    return value


def _scheduler_address(path: Path) -> tuple[str | None, str]:
    """(address, "") from a scheduler file, or (None, why it is not usable yet)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None, "missing"
    except IsADirectoryError:
        return None, "a folder, not a file"
    except OSError as exc:
        return None, f"cannot be read ({exc.strerror})"
    try:
        info = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        return None, "not a Dask scheduler file (not UTF-8 text)"
    except json.JSONDecodeError:
        return None, "not a Dask scheduler file (not JSON)"
    address = info.get("address") if isinstance(info, dict) else None
    if not isinstance(address, str) or "://" not in address:
        return None, "not a Dask scheduler file (no 'address' such as tcp://host:8786)"
    return address, ""


def read_scheduler_file(path: str | Path, timeout: float = DEFAULT_TIMEOUT) -> str:
    """The scheduler address in the Dask scheduler file ``path``, waiting at most ``timeout`` seconds
    for the file to appear and hold an address."""
    path = Path(path)
    deadline = time.monotonic() + timeout
    while True:
        address, why = _scheduler_address(path)
        if address is not None:
            return address
        if time.monotonic() >= deadline:
            break
        time.sleep(_POLL)
    if why == "missing":
        raise EnvironmentFault(
            f"--scheduler-file {path}: no such file after waiting {timeout:g} s (start the scheduler with "
            f"'dask scheduler --scheduler-file {path}', or wait longer with --connect-timeout)"
        )
    raise UserInputError(f"--scheduler-file {path}: {why} (waited {timeout:g} s)")


def connect(scheduler: str | None = None, scheduler_file: str | Path | None = None,
            timeout: float = DEFAULT_TIMEOUT):
    """A ``distributed.Client`` of the scheduler at ``scheduler`` or named by ``scheduler_file``."""
    from distributed import Client

    option = "--scheduler"
    if scheduler_file is not None:
        option = f"--scheduler-file {scheduler_file}: scheduler"
        scheduler = read_scheduler_file(scheduler_file, timeout)
    address = str(scheduler)
    if "://" not in address and ":" not in address:
        raise UserInputError(f"--scheduler {address}: not a scheduler address (e.g. tcp://10.0.0.5:8786)")
    try:
        return Client(address, timeout=timeout)
    except ValueError as exc:
        raise UserInputError(f"{option} {address}: not a scheduler address ({' '.join(str(exc).split())})") from None
    except (OSError, TimeoutError) as exc:
        # a requeued job or a crashed scheduler leaves a file that names an address nobody answers at
        hint = "a stale file of a scheduler that has ended? " if scheduler_file is not None else ""
        raise EnvironmentFault(
            f"{option} {address}: no Dask scheduler answered within {timeout:g} s "
            f"({type(exc).__name__}; {hint}is it running and reachable from here? see --connect-timeout)"
        ) from None


__all__ = ["DEFAULT_TIMEOUT", "connect", "parse_timeout", "read_scheduler_file"]
