"""``aimarket sweep``: run an experiment file's runs on local cores or a Dask cluster.

    aimarket sweep EXPERIMENT.toml --out DIR [--workers N] [--scheduler ADDRESS | --scheduler-file FILE]
                   [--resume] [--quiet]
    aimarket sweep EXPERIMENT.toml --out DIR --slurm --interface IFACE [--slurm-jobs N] ...
    aimarket sweep --check [--rebuild-summary] DIR

The SLURM options are added by :mod:`experiments.commands.sweep_slurm`, the store check's by
:mod:`experiments.commands.sweep_check`.

Exit status: 0 every run done, 1 some runs failed (recorded in DIR/manifest.json and
DIR/failures.json), 2 bad input (one line on stderr), 130 interrupted (finished runs are kept; add
``--resume`` to go on).
"""

from __future__ import annotations

import argparse
import sys

from simulation.errors import UserInputError


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "sweep",
        help="run an experiment (many runs) into a results folder",
        description="Run every run of an experiment file (factors, sampler, replications, seeds) on this "
        "machine's cores or on a Dask cluster, into a resumable results folder (see experiments/examples/).",
    )
    parser.add_argument(
        "experiment", metavar="EXPERIMENT.toml", help="experiment file (with --check: the results folder)"
    )
    parser.add_argument(
        "--out",
        metavar="DIR",
        default=None,
        help="results folder (new, empty, or this sweep's with --resume)",
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
        "--resume",
        action="store_true",
        help="continue the sweep in DIR: keep finished runs, run only what is missing",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    from experiments.commands import sweep_check, sweep_slurm

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
    from experiments.commands import sweep_check, sweep_slurm
    from experiments.session import sweep

    if args.check or args.rebuild_summary:
        return sweep_check.check_command(args)
    if args.out is None:
        raise UserInputError("--out: required (the results folder: new, empty, or this sweep's with --resume)")
    if not str(args.out).strip():
        raise UserInputError("--out: must be a folder path (got '')")
    report = sweep(
        args.experiment,
        args.out,
        workers=parse_workers(args.workers),
        scheduler=args.scheduler,
        resume=args.resume,
        scheduler_file=args.scheduler_file,
        progress=False if args.quiet else None,
        slurm=sweep_slurm.slurm_argument(args),
    )
    print(report.line(), file=sys.stderr)
    for failure in report.failed[:5]:
        print(f"  run {failure['run_id']} failed: {failure['error']}", file=sys.stderr)
    if len(report.failed) > 5:
        print(f"  ... and {len(report.failed) - 5} more (see {report.out}/failures.json)", file=sys.stderr)
    return 0 if report.complete else 1
