"""Run a sweep: executors, retries, resume and the progress bar.

Backends
--------
- ``local`` (default): a :class:`concurrent.futures.ProcessPoolExecutor` with the ``spawn`` start
  method (safe with numba, threads and macOS). It is the simpler, more robust choice for one machine:
  no scheduler, no nanny processes, and a dead worker surfaces as ``BrokenProcessPool``, after which
  the pool is recreated and the runs that were in flight are retried (at most ``max_attempts`` times
  each). Each worker warms the model up (``aimarket.simulation.run.warm_up()``: numba kernels compiled or
  loaded from cache) once, when it starts, never once per run.
- ``dask``: an existing cluster (``--scheduler ADDRESS`` or ``--scheduler-file FILE``, or a
  ``distributed.Client`` in Python). Dask reschedules the tasks of a worker that dies
  (``distributed.scheduler.allowed-failures``); a run whose worker keeps dying ends as failed.
  Each worker process warms up on its first run.
- ``inline`` (``workers=0``): runs in the calling process, for debugging and profiling.

Workers return a run's files as bytes and the main process writes them (see
:mod:`aimarket.experiments.sweeps.store`), so a worker never touches the results folder and an orphaned worker of a
killed sweep cannot write anything. Workers run with ``OMP_NUM_THREADS`` and similar set to 1 (unless
already set) so that processes, not threads, share the cores.
"""

from __future__ import annotations

import importlib
import os
import time
import traceback
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aimarket.experiments.sweeps.store import json_bytes, parquet_bytes

_THREAD_VARS = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMBA_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)
_WARM = False


@dataclass(frozen=True)
class Task:
    """What a worker needs to make one run (small and picklable).

    base: the resolved base scenario as a dict; overrides: factor values and ``run.seed``;
    outputs: tables to keep; run_fn: optional ``"module:function"`` replacing ``simulate``.
    """

    run_id: int
    seed: int
    base: dict
    overrides: dict
    outputs: tuple[str, ...]
    run_fn: str | None = None


@dataclass
class Outcome:
    """A worker's answer: the run's files (name -> bytes) or its error."""

    run_id: int
    ok: bool
    files: dict[str, bytes] = field(default_factory=dict)
    error: str = ""
    traceback: str = ""
    seconds: float = 0.0


def warm_up() -> None:
    """Compile or load the model's numba kernels once per process (``aimarket.simulation.run.warm_up``)."""
    global _WARM
    if _WARM:
        return
    import aimarket.simulation.run as run

    fn = getattr(run, "warm_up", None)
    if fn is not None:
        fn()
    _WARM = True


def _init_worker() -> None:
    try:
        warm_up()
    except Exception:  # noqa: BLE001 - reported by the first run that calls warm_up again
        pass


def resolve_run_fn(run_fn: str | None):
    """The function a run calls: ``simulate`` or the ``"module:function"`` named by ``run_fn``."""
    if run_fn is None:
        from aimarket.simulation.run import simulate

        return simulate
    module, _, name = run_fn.partition(":")
    return getattr(importlib.import_module(module), name)


def execute(task: Task) -> Outcome:
    """Make one run and serialise its kept outputs; never raises (errors are returned)."""
    start = time.perf_counter()
    try:
        from aimarket.simulation.scenario.overrides import apply_overrides

        warm_up()
        scenario = apply_overrides(task.base, task.overrides)
        result = resolve_run_fn(task.run_fn)(scenario, seed=task.seed)
        files = {"summary.json": json_bytes(result.summary)}
        if "timeseries" in task.outputs:
            files["timeseries.parquet"] = parquet_bytes(result.timeseries)
        if "labs" in task.outputs:
            files["labs.parquet"] = parquet_bytes(result.labs)
        return Outcome(task.run_id, True, files, seconds=time.perf_counter() - start)
    except Exception as exc:  # noqa: BLE001 - a failed run is recorded, the sweep goes on
        message = " ".join(f"{type(exc).__name__}: {exc}".split())
        return Outcome(
            task.run_id,
            False,
            error=message,
            traceback=traceback.format_exc(),
            seconds=time.perf_counter() - start,
        )


@contextmanager
def single_threaded_workers():
    """Set the thread-count variables to 1 (if unset) while worker processes are spawned."""
    saved = {k: os.environ.get(k) for k in _THREAD_VARS}
    for k in _THREAD_VARS:
        os.environ.setdefault(k, "1")
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class InlineExecutor:
    """A stand-in executor that runs each task in the calling process when submitted."""

    def submit(self, fn, *args) -> Future:
        fut: Future = Future()
        try:
            fut.set_result(fn(*args))
        except BaseException as exc:  # noqa: BLE001
            fut.set_exception(exc)
        return fut

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        pass


class Backend:
    """Creates, recreates and closes the executor of one sweep session."""

    def __init__(self, workers: int | None = None, scheduler: Any = None, scheduler_file: str | None = None,
                 connect_timeout: float | None = None):
        self.scheduler = scheduler
        self.scheduler_file = scheduler_file
        self.connect_timeout = connect_timeout
        self.client = None
        self._own_client = False
        self.executor = None
        if scheduler is not None or scheduler_file is not None:
            self.kind = "dask"
            self.workers = workers
        elif workers == 0:
            self.kind = "inline"
            self.workers = 1
        else:
            self.kind = "local"
            self.workers = workers or _cpu_count()

    def describe(self) -> dict[str, Any]:
        info: dict[str, Any] = {"kind": self.kind, "workers": self.workers}
        if self.kind == "local":
            info["executor"] = "concurrent.futures.ProcessPoolExecutor(spawn)"
        if self.kind == "dask" and self.client is not None:
            info["scheduler"] = self.client.scheduler.address
            info["workers"] = len(self.client.scheduler_info().get("workers", {}))
            info["threads"] = sum(self.client.nthreads().values())
        return info

    def start(self, n_tasks: int):
        if self.kind == "inline":
            self.executor = InlineExecutor()
        elif self.kind == "local":
            self.workers = max(1, min(self.workers, n_tasks))
            import multiprocessing

            with single_threaded_workers():
                self.executor = ProcessPoolExecutor(
                    self.workers, mp_context=multiprocessing.get_context("spawn"), initializer=_init_worker
                )
        else:
            self.connect()
            self.executor = self.client.get_executor(pure=False)
        return self.executor

    def connect(self) -> None:
        """Connect to the Dask scheduler (once; nothing for local backends), within the time limit."""
        if self.kind != "dask" or self.client is not None:
            return
        from distributed import Client

        from aimarket.experiments.sweeps.scheduler_connection import DEFAULT_TIMEOUT, connect

        if isinstance(self.scheduler, Client):
            self.client = self.scheduler
            return
        self.client = connect(self.scheduler, self.scheduler_file, self.connect_timeout or DEFAULT_TIMEOUT)
        self._own_client = True

    def window(self) -> int:
        """How many runs to keep submitted at once."""
        if self.kind == "dask":
            return 1_000_000  # let the scheduler see every task (adaptive clusters scale on it)
        return 2 * self.workers

    def restart(self):
        """Replace a broken process pool."""
        if self.executor is not None:
            self.executor.shutdown(wait=False, cancel_futures=True)
        return self.start(10**9)

    def close(self, cancel: bool = False) -> None:
        """Shut the executor down; with ``cancel``, drop queued runs and stop local workers now."""
        if self.executor is not None:
            try:
                if self.kind == "dask":
                    self.executor.shutdown(wait=not cancel)  # wait=False cancels its futures
                else:
                    processes = list((getattr(self.executor, "_processes", None) or {}).values())
                    self.executor.shutdown(wait=not cancel, cancel_futures=True)
                    if cancel:
                        for proc in processes:  # runs in flight are lost anyway: do not wait for them
                            proc.terminate()
            except Exception:  # noqa: BLE001 - closing must not hide the error that got us here
                pass
            self.executor = None
        if self.client is not None and self._own_client:
            self.client.close()
            self.client = None


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def run_tasks(backend: Backend, tasks: list[Task], on_outcome, max_attempts: int = 3) -> None:
    """Run ``tasks`` on ``backend``; call ``on_outcome(task, outcome, attempts)`` once per task, in
    completion order, when it finished or finally failed.

    A dead worker process breaks a local pool and fails every run in flight; the pool is recreated and
    those runs become *suspects*, retried one at a time before anything else, so a run that kills its
    worker is found and charged alone. Each run gets at most ``max_attempts`` attempts; after that it is
    reported as failed ("worker process died"). On Dask, a dead worker's tasks are rescheduled by Dask
    itself; a task that still fails (``KilledWorker``) is reported as failed.
    """
    executor = backend.start(len(tasks))
    pending = deque(tasks)
    suspects: deque[Task] = deque()
    attempts: dict[int, int] = {}
    in_flight: dict[Future, Task] = {}
    window = backend.window()

    def collect(fut: Future) -> bool:
        """Handle one done future; True if its process pool is broken."""
        task = in_flight.pop(fut)
        n = attempts[task.run_id] = attempts.get(task.run_id, 0) + 1
        try:
            outcome = fut.result()
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # noqa: BLE001
            broken = isinstance(exc, BrokenProcessPool)
            if broken and n < max_attempts:
                suspects.append(task)
                return True
            reason = (
                "worker process died" if broken or type(exc).__name__ == "KilledWorker" else "executor error"
            )
            message = " ".join(f"{reason} after {n} attempt(s) ({type(exc).__name__}: {exc})".split())
            outcome = Outcome(
                task.run_id, False, error=message, traceback="".join(traceback.format_exception(exc))
            )
            on_outcome(task, outcome, n)
            return broken
        on_outcome(task, outcome, n)
        return False

    try:
        while pending or suspects or in_flight:
            broken = False
            if suspects:  # isolate runs that were in flight when a worker died
                if not in_flight:
                    task = suspects.popleft()
                    try:
                        in_flight[executor.submit(execute, task)] = task
                    except BrokenProcessPool:
                        suspects.appendleft(task)
                        broken = True
            else:
                while pending and len(in_flight) < window:
                    task = pending.popleft()
                    try:
                        in_flight[executor.submit(execute, task)] = task
                    except BrokenProcessPool:
                        pending.appendleft(task)
                        broken = True
                        break
            if not broken and in_flight:
                done, _ = wait(list(in_flight), return_when=FIRST_COMPLETED)
                for fut in sorted(done, key=lambda f: in_flight[f].run_id):
                    broken = collect(fut) or broken
            if broken:
                # every in-flight future of a broken pool ends (with a result or the error): collect
                # them all, then replace the pool
                wait(list(in_flight))
                for fut in sorted(in_flight, key=lambda f: in_flight[f].run_id):
                    collect(fut)
                executor = backend.restart()
    finally:
        for fut in in_flight:
            fut.cancel()
