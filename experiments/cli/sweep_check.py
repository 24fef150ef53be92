"""``aimarket sweep --check DIR [--verify] [--rebuild-summary]``: report the state of a results folder
(:mod:`aimarket.experiments.sweeps.store_check`) and, with ``--rebuild-summary``, rewrite its summary.parquet.

Exit status: 0 every run is done and every run folder verifies, 1 otherwise (the report says what is
damaged, failed or missing), 2 not a sweep folder or a corrupt manifest (one line).
"""

from __future__ import annotations

import argparse

from aimarket.simulation.errors import UserInputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("checking a results folder")
    group.add_argument(
        "--check",
        metavar="DIR",
        default=None,
        help="report the state of the results folder DIR (runs done, damaged, failed, missing; code of "
        "each session) without running anything",
    )
    group.add_argument(
        "--rebuild-summary",
        action="store_true",
        help="with --check: rewrite DIR/summary.parquet from the finished runs (the only file --check writes)",
    )


def check_command(args: argparse.Namespace) -> int:
    from aimarket.experiments.sweeps.store_check import check_store, current_code_differences

    if args.check is None:
        raise UserInputError("--rebuild-summary: only with --check (aimarket sweep --check DIR --rebuild-summary)")
    if args.experiment is not None or args.out is not None or args.resume or args.allow_code_change:
        raise UserInputError(
            "--check DIR: give only the folder (and --verify, --rebuild-summary), not an experiment, --out or --resume"
        )
    result = check_store(args.check, verify=args.verify, rebuild_summary=args.rebuild_summary)
    for line in result.lines():
        print(line)
    differs = current_code_differences(args.check)
    print("  current code: " + ("differs from the latest session's: " + "; ".join(differs) if differs
                                else "the same as the latest session's"))
    return 0 if result.ok else 1
