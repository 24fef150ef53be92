"""``aimarket report``: one self-contained HTML page on the sweeps in a folder.

    aimarket report DIR [--out FILE] [--dpi N]

DIR is a results root (one sweep folder per experiment) or a single sweep folder, of the research
questions or of any experiment file. Nothing is simulated. The page (default DIR/report.html) embeds
its figures as PNG; its tables are also written as CSV and LaTeX into tables/ beside it.
Its folder is checked before anything
is drawn, a second report into the same file is refused while the first runs, and the page is written
to a temporary name and renamed, so the previous page stays intact until the new one is complete.
"""

from __future__ import annotations

import argparse

from aimarket.simulation.errors import UserInputError


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "report",
        help="write report.html on the sweeps in a folder (research questions or any sweep)",
        description="Write a self-contained HTML report from the results in DIR: per research question its "
        "figures and the numbers that answer it, and per sweep a section per output listed in its experiment "
        "file ([report] outputs = [...]); numbers are means across runs with the 5th and 95th percentiles. "
        "Tables also as CSV and LaTeX (booktabs) in tables/ beside the page.",
    )
    parser.add_argument("dir", metavar="DIR", help="results folder, e.g. results/quick")
    parser.add_argument("--out", metavar="FILE", default=None, help="the page to write (default: DIR/report.html)")
    parser.add_argument("--dpi", default="150", metavar="N", help="resolution of the embedded figures (default: 150)")
    parser.set_defaults(func=report_command)
    return parser


def report_command(args: argparse.Namespace) -> int:
    from pathlib import Path

    folder = Path(args.dir)
    if not folder.is_dir():
        raise UserInputError(f"{folder}: not a folder (give a results folder, e.g. results/quick)")
    from aimarket.experiments.cli.options import bounded_integer

    dpi = bounded_integer("--dpi", args.dpi, 10, 1200)
    if args.out is not None and Path(args.out).is_dir():
        raise UserInputError(f"--out {args.out}: is a folder (give a file name, e.g. report.html)")

    import matplotlib

    matplotlib.use("Agg")
    from aimarket.experiments.questions.report import write_report_locked

    path = write_report_locked(folder, args.out, dpi=dpi)
    print(f"report: {path}")
    return 0
