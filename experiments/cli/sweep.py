"""``aimarket sweep``: run an experiment file's runs on local cores or a Dask cluster.

    aimarket sweep EXPERIMENT.toml --out DIR [--workers N] [--scheduler ADDRESS | --scheduler-file FILE]
                   [--connect-timeout S] [--resume [--verify] [--allow-code-change]] [--quiet]
    aimarket sweep EXPERIMENT.toml --out DIR --slurm --interface IFACE [--slurm-jobs N] ...
    aimarket sweep --check DIR [--verify] [--rebuild-summary]

The SLURM options are added by :mod:`aimarket.experiments.cli.sweep_slurm`, the store check's by
:mod:`aimarket.experiments.cli.sweep_check`.

Exit status: 0 every run done, 1 some runs failed (recorded in DIR/manifest.json and
DIR/failures.json) or an environment fault (a full disk, an unreachable scheduler: one line), 2 bad
input (one line on stderr), 130 interrupted (finished runs are kept; add ``--resume`` to go on).
``--check`` runs nothing and writes nothing (but summary.parquet with ``--rebuild-summary``): exit
status 0 when every run is done and verifies, 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys

from aimarket.simulation.errors import UserInputError


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "sweep",
        help="run an experiment (many runs) into a results folder",
        description="Run every run of an experiment file (factors, sampler, replications, seeds) on this "
        "machine's cores or on a Dask cluster, into a resumable results folder (see experiments/examples/).",
    )
    parser.add_argument(
        "experiment", metavar="EXPERIMENT.toml", nargs="?", default=None, help="experiment file (not with --check)"
    )
    parser.add_argument(
        "--out",
        metavar="DIR",
        default=None,
        help="results folder (new, empty, or this sweep's with --resume); required unless --check",
    )
    parser.add_argument(
        "--workers",
        metavar="N",
        default=None,
        help="local worker processes (default: usable cores; 0 = run in this process)",
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        default=None,
        help="run on an existing Dask cluster, e.g. tcp://10.0.0.5:8786",
    )
    where.add_argument(
        "--scheduler-file",
        metavar="FILE",
        default=None,
        help="run on the Dask cluster described by this scheduler file",
    )
    parser.add_argument(
        "--connect-timeout",
        metavar="S",
        default="10",
        help="seconds to wait for the Dask scheduler (or for its scheduler file to appear); default 10",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue the sweep in DIR: verify finished runs, keep those that verify, run the rest",
    )
    parser.add_argument(
        "--verify",
        action="store_true",
        help="with --resume or --check: compare every finished run's SHA-256 hashes (sizes are always compared)",
    )
    parser.add_argument(
        "--allow-code-change",
        action="store_true",
        help="with --resume: go on even though the model code (version, commit, edits, run function) "
        "changed; every session and run folder records its code",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    from aimarket.experiments.cli import sweep_check, sweep_slurm

    sweep_slurm.add_arguments(parser)
    sweep_check.add_arguments(parser)
    parser.set_defaults(func=sweep_command)
    return parser


def parse_workers(text: str | None) -> int | None:
    """The --workers option: None (all usable cores) or an integer >= 0."""
    if text is None:
        return None
    try:
        value = int(str(text).strip())
    except ValueError:
        raise UserInputError(f"--workers: must be an integer >= 0 (got {text!r})") from None
    if value < 0:
        raise UserInputError(f"--workers: must be an integer >= 0 (got {text!r})")
    return value


def sweep_command(args: argparse.Namespace) -> int:
    from aimarket.experiments.cli import sweep_check, sweep_slurm
    from aimarket.experiments.sweeps.scheduler_connection import parse_timeout

    if args.check is not None or args.rebuild_summary:
        return sweep_check.check_command(args)
    if args.experiment is None:
        raise UserInputError("EXPERIMENT.toml: missing (give an experiment file, or --check DIR)")
    if args.out is None:
        raise UserInputError("--out: required (the results folder: new, empty, or this sweep's with --resume)")
    if not str(args.out).strip():
        raise UserInputError("--out: must be a folder path (got '')")
    if (args.verify or args.allow_code_change) and not args.resume:
        raise UserInputError("--verify and --allow-code-change: only with --resume (or --verify with --check)")
    timeout = parse_timeout(args.connect_timeout)
    from aimarket.experiments.sweeps.session import sweep

    report = sweep(
        args.experiment,
        args.out,
        workers=parse_workers(args.workers),
        scheduler=args.scheduler,
        resume=args.resume,
        scheduler_file=args.scheduler_file,
        progress=False if args.quiet else None,
        allow_code_change=args.allow_code_change,
        verify=args.verify,
        connect_timeout=timeout,
        slurm=sweep_slurm.slurm_argument(args),
    )
    print(report.line(), file=sys.stderr)
    for failure in report.failed[:5]:
        print(f"  run {failure['run_id']} failed: {failure['error']}", file=sys.stderr)
    if len(report.failed) > 5:
        print(f"  ... and {len(report.failed) - 5} more (see {report.out}/failures.json)", file=sys.stderr)
    return 0 if report.complete else 1
