"""``aimarket sweep --slurm``: Dask workers as SLURM jobs, started and stopped by the sweep itself.

The sweep process (on a login node) runs a Dask scheduler bound to the address of the network
interface the user names, and a :class:`dask_jobqueue.SLURMCluster` that submits one SLURM job per
Dask worker: one single-threaded worker process per job (``cores=1, processes=1``), so a job's
``--mem`` is the memory of one run plus Dask's overhead. The runs are ordinary Dask tasks of the
Dask backend (:mod:`aimarket.experiments.sweeps.runner`): workers return a run's files as bytes and the sweep
process writes them, so the store, resume and byte-identical results are those of a local sweep.

Job count: an adaptive policy (``RunQueueAdaptive``) keeps ``min(jobs, runs queued or in flight)``
workers, so the cluster scales to ``jobs`` at the start, submits a fresh job whenever a worker leaves
(cancelled, preempted or retired at the end of its lifetime) and releases idle workers near the end.
Walltime: each worker retires gracefully (``--lifetime`` with ``--lifetime-stagger``) before its job's
walltime; the run it had in flight goes to another worker, and a run that finished is never lost.
Every job of a session is named ``aimarket-<pid>-<random>`` and the session cancels exactly those
jobs (``scancel --name``) when it ends: normally, on Ctrl-C or SIGTERM, or on an error.
Numba: ``NUMBA_CACHE_DIR`` in every job points at one folder (``--numba-cache``, default
``DIR/.slurm/numba-cache``) so workers load kernels another worker compiled.
"""

from __future__ import annotations

import logging
import os
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

from aimarket.experiments.sweeps.runner import _THREAD_VARS, Backend
from aimarket.experiments.sweeps.slurm_options import SlurmOptions
from aimarket.simulation.errors import EnvironmentFault, UserInputError

#: hidden folder of the results folder holding the jobs' logs and (by default) the numba cache
SLURM_FOLDER = ".slurm"
_ACTIVE_STATES = ("processing", "no-worker", "queued", "waiting")


def sweep_backend(slurm: Any, exp, out: Path, workers, scheduler, scheduler_file) -> SlurmBackend:
    """The backend of ``sweep(..., slurm=...)``: the options of ``slurm`` (True or a dict) layered on
    the experiment's ``[slurm]`` section and the user configuration, checked (``sbatch --test-only``
    included) before the results folder is touched."""
    if scheduler is not None or scheduler_file is not None or workers is not None:
        raise UserInputError("--slurm: starts its own Dask cluster; do not also give --workers or --scheduler*")
    from aimarket.experiments.sweeps import slurm_options

    return SlurmBackend(prepare(slurm_options.resolve(slurm, exp.raw, exp.path.name), out), out)


def require_jobqueue() -> None:
    """Import dask-jobqueue; one line (exit 2) when it is missing.

    dask-jobqueue 0.9 replaces the SIGINT handler when imported (``dask_jobqueue.runner`` makes
    Ctrl-C call ``sys.exit()``, which would end the sweep with status 0 and no record of the
    interruption): the handler the sweep had is put back.
    """
    previous = signal.getsignal(signal.SIGINT)
    try:
        import dask_jobqueue  # noqa: F401
    except ImportError:
        raise UserInputError(
            "--slurm: needs dask-jobqueue; install the cluster extra: pip install 'aimarket[cluster]'"
        ) from None
    finally:
        if threading.current_thread() is threading.main_thread() and previous is not None:
            signal.signal(signal.SIGINT, previous)


def require_sbatch() -> None:
    """One line (exit 1) when this machine cannot submit SLURM jobs."""
    for tool in ("sbatch", "scancel", "squeue"):
        if shutil.which(tool) is None:
            raise EnvironmentFault(f"--slurm: '{tool}' not found on PATH (run the sweep on a SLURM login node)")


def interface_address(interface: str | None) -> str:
    """The IPv4 address of ``interface``; a one-line error naming the machine's interfaces."""
    import socket

    import psutil

    names = sorted(psutil.net_if_addrs())
    if not interface:
        raise UserInputError(
            "--interface: required with --slurm: the network interface the Dask scheduler and workers "
            f"bind to, reachable from the compute nodes (this machine has: {', '.join(names)})"
        )
    addresses = psutil.net_if_addrs().get(interface)
    if addresses is None:
        raise UserInputError(f"--interface: no interface {interface!r} on this machine (allowed: {', '.join(names)})")
    for info in addresses:
        if info.family == socket.AF_INET:
            return info.address
    raise UserInputError(f"--interface: {interface!r} has no IPv4 address (allowed: {', '.join(names)})")


def prepare(options: SlurmOptions, out: Path) -> SlurmOptions:
    """Check everything the backend needs before the results folder is touched."""
    require_jobqueue()
    interface_address(options.interface)
    require_sbatch()
    test_submission(options)
    cache = Path(options.numba_cache) if options.numba_cache else Path(out) / SLURM_FOLDER / "numba-cache"
    return replace(options, numba_cache=str(cache.resolve()))


#: shell variable of each job holding its node's address on the interface (for the worker's HTTP server)
_WORKER_HOST = "AIMARKET_WORKER_HOST"


def job_script_prologue(options: SlurmOptions) -> list[str]:
    """Shell lines of each job before its worker starts: the user's prologue, then the environment
    and the node's address on the named interface."""
    threads = " ".join(f"{name}=1" for name in _THREAD_VARS)
    find_host = "import sys; from distributed.utils import get_ip_interface; print(get_ip_interface(sys.argv[1]))"
    return [
        *options.prologue,
        f"export NUMBA_CACHE_DIR={shlex.quote(str(options.numba_cache))}",
        f"export {threads}",
        f"{_WORKER_HOST}=$({shlex.quote(sys.executable)} -c {shlex.quote(find_host)} {shlex.quote(options.interface)})",
    ]


def cluster_kwargs(options: SlurmOptions, log_directory: Path, job_name: str) -> dict[str, Any]:
    """Keyword arguments of :class:`dask_jobqueue.SLURMCluster` for ``options``."""
    host = interface_address(options.interface)
    lifetime, stagger = options.lifetime()
    return {
        "cores": 1,
        "processes": 1,
        "memory": options.memory,
        "walltime": options.walltime,
        "queue": options.queue,
        "account": options.account,
        "interface": options.interface,
        # the scheduler and its dashboard listen on the named interface only
        "scheduler_options": {"interface": options.interface, "dashboard_address": f"{host}:0"},
        # a worker's HTTP server (health, metrics) listens on every address unless told otherwise
        "worker_extra_args": [
            "--no-dashboard",
            "--dashboard-address",
            f'"${{{_WORKER_HOST}}}:0"',
            "--lifetime",
            f"{lifetime}s",
            "--lifetime-stagger",
            f"{stagger}s",
        ],
        "job_script_prologue": job_script_prologue(options),
        "job_extra_directives": list(options.sbatch),
        "log_directory": str(log_directory),
        "job_name": job_name,
        "python": sys.executable,
    }


def _adaptive_class():
    from distributed.deploy.adaptive import Adaptive

    class RunQueueAdaptive(Adaptive):
        """Target ``min(maximum, runs queued or in flight)`` workers (not Dask's duration estimate,
        which would start fewer jobs than asked for short runs)."""

        async def target(self) -> int:
            scheduler = self.cluster.scheduler
            active = sum(1 for ts in scheduler.tasks.values() if ts.state in _ACTIVE_STATES)
            return min(self.maximum, active)

    return RunQueueAdaptive


class SlurmBackend(Backend):
    """The Dask backend on a :class:`dask_jobqueue.SLURMCluster` that this sweep session owns."""

    def __init__(self, options: SlurmOptions, out: Path):
        super().__init__(workers=options.jobs, scheduler=None)
        self.kind = "slurm"
        self.options = options
        self.folder = Path(out) / SLURM_FOLDER
        self.job_name = f"aimarket-{os.getpid()}-{secrets.token_hex(3)}"
        self.cluster = None

    def describe(self) -> dict[str, Any]:
        lifetime, stagger = self.options.lifetime()
        info: dict[str, Any] = {
            "kind": "slurm",
            "workers": self.options.jobs,
            "jobs": self.options.jobs,
            "job_name": self.job_name,
            "walltime": self.options.walltime,
            "worker_lifetime_s": lifetime,
            "worker_lifetime_stagger_s": stagger,
            "memory": self.options.memory,
            "queue": self.options.queue,
            "account": self.options.account,
            "interface": self.options.interface,
            "numba_cache": self.options.numba_cache,
        }
        if self.client is not None:
            info["scheduler"] = self.client.scheduler.address
        if self.cluster is not None:
            info["job_script"] = self.cluster.job_script()
        return info

    def start(self, n_tasks: int):
        if self.executor is not None:
            return self.executor
        from dask_jobqueue import SLURMCluster
        from distributed import Client

        (self.folder / "logs").mkdir(parents=True, exist_ok=True)
        Path(self.options.numba_cache).mkdir(parents=True, exist_ok=True)
        kwargs = cluster_kwargs(self.options, self.folder / "logs", self.job_name)
        _quiet_dask_logs()
        try:
            self.cluster = SLURMCluster(**kwargs)
            self.cluster.adapt(Adaptive=_adaptive_class(), minimum=0, maximum=self.options.jobs)
            self.client = Client(self.cluster)
        except BaseException:
            self.close(cancel=True)
            raise
        self._own_client = True
        self.executor = self.client.get_executor(pure=False)
        return self.executor

    def restart(self):
        return self.executor

    def close(self, cancel: bool = False) -> None:
        """Stop the executor (cancelling queued runs with ``cancel``), the client, the cluster and
        every job of this session."""
        if self.executor is not None:
            try:
                self.executor.shutdown(wait=not cancel)
            except Exception:  # noqa: BLE001 - closing must not hide the error that got us here
                pass
            self.executor = None
        if self.client is not None:
            try:
                self.client.close(timeout=30)
            except Exception:  # noqa: BLE001
                pass
            self.client = None
        if self.cluster is not None:
            try:
                self.cluster.close(timeout=30)
            except Exception:  # noqa: BLE001 - the jobs are cancelled by name below in any case
                pass
            self.cluster = None
        cancel_jobs(self.job_name)


def cancel_jobs(job_name: str) -> None:
    """Cancel every job of this user named ``job_name`` (pending or running)."""
    try:
        subprocess.run(
            ["scancel", "--quiet", f"--name={job_name}", f"--user={_user()}"],
            capture_output=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        pass


def _user() -> str:
    import getpass

    return getpass.getuser()


def test_submission(options: SlurmOptions) -> None:
    """``sbatch --test-only`` a job with the worker jobs' directives, so that a bad partition, account
    or limit (or a SLURM that does not answer) is one line before anything is written, not a sweep that
    waits for workers that never come."""
    cmd = ["sbatch", "--test-only", "--ntasks=1", "--cpus-per-task=1", f"--time={options.walltime}"]
    cmd.append(f"--mem={_sbatch_memory(options.memory)}")
    cmd += [f"--partition={options.queue}"] if options.queue else []
    cmd += [f"--account={options.account}"] if options.account else []
    cmd += [*options.sbatch, "--wrap=true"]
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=90, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError) as exc:
        raise EnvironmentFault(f"--slurm: sbatch --test-only failed ({exc})") from None
    if res.returncode != 0:
        message = " ".join((res.stderr or res.stdout).split()) or f"exit status {res.returncode}"
        bad_input = any(word in message.lower() for word in ("partition", "account", "invalid", "memory", "time limit"))
        raise (UserInputError if bad_input else EnvironmentFault)(f"--slurm: SLURM refuses the worker job: {message}")


def _sbatch_memory(memory: str) -> str:
    """``--mem`` as dask-jobqueue writes it (whole MiB/GiB)."""
    from dask.utils import parse_bytes

    return f"{max(1, -(-parse_bytes(memory) // 2**20))}M"


def _quiet_dask_logs() -> None:
    """Dask logs each worker's arrival and departure at INFO; the sweep reports progress itself."""
    for name in ("distributed", "dask_jobqueue"):
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET or logger.level < logging.WARNING:
            logger.setLevel(logging.WARNING)
