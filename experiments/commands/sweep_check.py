"""``aimarket sweep --check [--rebuild-summary] DIR``: verify a results folder (and rewrite its
summary.parquet). Exit status: 0 the store is sound, 1 problems found (listed), 2 not a sweep folder."""

from __future__ import annotations

import argparse
import sys

from simulation.errors import UserInputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("checking a results folder")
    group.add_argument(
        "--check",
        action="store_true",
        help="check the results folder given instead of the experiment file; make nothing",
    )
    group.add_argument(
        "--rebuild-summary",
        action="store_true",
        help="with --check: rewrite DIR/summary.parquet from the finished runs",
    )


def check_command(args: argparse.Namespace) -> int:
    from experiments.store_check import check_store

    if not args.check:
        raise UserInputError("--rebuild-summary: only with --check (aimarket sweep --check --rebuild-summary DIR)")
    if args.out is not None:
        raise UserInputError("--out: not with --check (give the results folder itself: aimarket sweep --check DIR)")
    report = check_store(args.experiment, rebuild_summary=args.rebuild_summary)
    print(report.line(), file=sys.stderr)
    for problem in report.problems[:20]:
        print(f"  {problem}", file=sys.stderr)
    if len(report.problems) > 20:
        print(f"  ... and {len(report.problems) - 20} more", file=sys.stderr)
    return 0 if report.ok else 1
