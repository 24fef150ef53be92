"""``aimarket sensitivity``: Sobol or Morris indices of a finished sweep's summary outputs.

    aimarket sensitivity DIR --output NAME [--output NAME ...] [--method sobol|morris]
                         [--minus DIR2] [--drop-incomplete] [--no-plot]

Prints a table and writes DIR/sensitivity/<method>_<output>.csv and .png.
"""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "sensitivity",
        help="Sobol or Morris sensitivity indices of a sweep's outputs",
        description="Global sensitivity analysis (SALib) of summary outputs of a sweep run with "
        "sampler.method = 'sobol' (S1, ST and their confidence intervals) or 'morris' (mu*, sigma).",
    )
    parser.add_argument("out", metavar="DIR", help="results folder of a finished sweep")
    parser.add_argument(
        "--output",
        dest="outputs",
        metavar="NAME",
        action="append",
        required=True,
        help="a numeric summary.json entry, e.g. final_hhi or agi_cost_ratio.reasoning (repeatable)",
    )
    parser.add_argument(
        "--method", choices=("sobol", "morris"), default=None, help="analysis (default: the sweep's sampler)"
    )
    parser.add_argument(
        "--minus",
        metavar="DIR2",
        default=None,
        help="indices of the difference DIR minus DIR2, point by point (DIR2: a sweep of the same design)",
    )
    parser.add_argument(
        "--drop-incomplete",
        action="store_true",
        help="Morris: leave out the trajectories in which a run is not done (failed), with a warning",
    )
    parser.add_argument("--no-plot", action="store_true", help="do not draw the bar charts")
    parser.set_defaults(func=sensitivity_command)
    return parser


def sensitivity_command(args: argparse.Namespace) -> int:
    import sys

    from aimarket.experiments.analysis.sensitivity import format_table, sensitivity

    table = sensitivity(args.out, args.outputs, args.method, plot=not args.no_plot, minus=args.minus,
                        drop_incomplete=args.drop_incomplete)
    print(format_table(table))
    for line in table.attrs.get("warnings", []):
        print(f"aimarket: warning: {line}", file=sys.stderr)
    print(f"files: {', '.join(table.attrs.get('files', []))}")
    return 0
