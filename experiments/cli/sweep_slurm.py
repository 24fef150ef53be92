"""The ``--slurm`` options of ``aimarket sweep`` (see :mod:`aimarket.experiments.sweeps.slurm` and docs/cluster.md).

Each option left out takes its value from the ``[slurm]`` section of the experiment file, then of
the user configuration file, then the defaults (:mod:`aimarket.experiments.sweeps.slurm_options`).
"""

from __future__ import annotations

import argparse

from aimarket.experiments.sweeps.slurm_options import DEFAULT_JOBS, DEFAULT_MEMORY, DEFAULT_WALLTIME, check_value
from aimarket.simulation.errors import UserInputError

#: --option -> key of aimarket.experiments.sweeps.slurm_options.SlurmOptions
OPTIONS = {
    "slurm_jobs": "jobs",
    "slurm_walltime": "walltime",
    "slurm_memory": "memory",
    "slurm_queue": "queue",
    "slurm_account": "account",
    "interface": "interface",
    "numba_cache": "numba_cache",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "SLURM (Dask workers as SLURM jobs; defaults from a [slurm] section of the experiment file or "
        "~/.config/aimarket/config.toml)"
    )
    group.add_argument(
        "--slurm",
        action="store_true",
        help="submit Dask workers as SLURM jobs from this machine (needs the cluster extra: dask-jobqueue)",
    )
    group.add_argument(
        "--slurm-jobs",
        metavar="N",
        default=None,
        help=f"jobs to keep running, one worker each (default {DEFAULT_JOBS})",
    )
    group.add_argument(
        "--slurm-walltime",
        metavar="HH:MM:SS",
        default=None,
        help=f"time limit per job; workers retire before it and fresh jobs replace them (default {DEFAULT_WALLTIME})",
    )
    group.add_argument(
        "--slurm-memory", metavar="SIZE", default=None, help=f"memory per job (default {DEFAULT_MEMORY})"
    )
    group.add_argument("--slurm-queue", metavar="Q", default=None, help="SLURM partition (default: the cluster's)")
    group.add_argument("--slurm-account", metavar="A", default=None, help="SLURM account (default: yours)")
    group.add_argument(
        "--interface",
        metavar="IFACE",
        default=None,
        help="network interface the Dask scheduler and workers bind to, e.g. ib0 (lo on a one-node cluster)",
    )
    group.add_argument(
        "--numba-cache",
        metavar="DIR",
        default=None,
        help="shared folder for compiled numba kernels (default: .slurm/numba-cache in the results folder)",
    )


def slurm_argument(args: argparse.Namespace) -> dict | None:
    """The ``slurm=`` argument of :func:`aimarket.experiments.sweeps.session.sweep` (None without ``--slurm``)."""
    given = {name: getattr(args, name) for name in OPTIONS if getattr(args, name) is not None}
    if not args.slurm:
        if given:
            raise UserInputError(f"{_flag(next(iter(given)))}: only with --slurm")
        return None
    return {OPTIONS[name]: check_value(OPTIONS[name], value, _flag(name)) for name, value in given.items()}


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")
