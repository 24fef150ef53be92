"""Connecting the sweep to an existing Dask scheduler, by address or by scheduler file.

A scheduler file is written by ``dask scheduler --scheduler-file FILE`` once the scheduler listens.
When the sweep and the scheduler start together (one SLURM allocation, see
experiments/examples/slurm_scheduler_file.sbatch), the sweep may start first: it waits for the file
(``AIMARKET_SCHEDULER_WAIT`` seconds, default 300) and then for the scheduler to answer, and says in
one line what it waited for if either never comes (exit status 1). A file left by a scheduler that has
ended names an address nobody answers at: the message says so.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from simulation.errors import EnvironmentFault, UserInputError

DEFAULT_WAIT = 300.0  # seconds
CONNECT_TIMEOUT = 30.0  # seconds for the scheduler to answer once its address is known


def wait_seconds() -> float:
    text = os.environ.get("AIMARKET_SCHEDULER_WAIT", "")
    if not text:
        return DEFAULT_WAIT
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise UserInputError(f"AIMARKET_SCHEDULER_WAIT: must be a number of seconds > 0 (got {text!r})")
    return value


def read_address(path: str | Path, timeout: float | None = None) -> str:
    """The scheduler address in the scheduler file ``path``, waiting up to ``timeout`` s for it."""
    path = Path(path)
    timeout = wait_seconds() if timeout is None else timeout
    deadline = time.monotonic() + timeout
    while True:
        try:
            address = json.loads(path.read_text()).get("address")
            if isinstance(address, str) and address:
                return address
        except (OSError, ValueError, AttributeError):
            pass  # not there yet, or being written
        if time.monotonic() >= deadline:
            raise EnvironmentFault(
                f"--scheduler-file {path}: no Dask scheduler wrote it within {timeout:g} s "
                "(is the scheduler started, or its job still queued?)"
            )
        time.sleep(0.5)


def connect(address: str | None = None, scheduler_file: str | Path | None = None):
    """A ``distributed.Client`` of the scheduler at ``address`` or named in ``scheduler_file``."""
    from distributed import Client

    where = f"--scheduler {address}"
    if scheduler_file is not None:
        address = read_address(scheduler_file)
        where = f"--scheduler-file {scheduler_file}: the scheduler at {address}"
    try:
        return Client(address, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError) as exc:
        stale = " (a stale file of a scheduler that has ended?)" if scheduler_file is not None else ""
        raise EnvironmentFault(
            f"{where} does not answer within {CONNECT_TIMEOUT:g} s{stale}: {' '.join(str(exc).split())[:200]}"
        ) from None
