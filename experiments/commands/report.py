"""``aimarket report``: one self-contained HTML page answering the research questions.

    aimarket report DIR [--out FILE] [--dpi N]

DIR is a results root (one sweep folder per experiment of experiments/questions/) or a single sweep
folder. Nothing is simulated. The page (default DIR/report.html) embeds its figures as PNG. Its folder
is checked before anything is drawn, a second report into the same file is refused while the first
runs, and the page is written to a temporary name and renamed, so the previous page stays intact
until the new one is complete.
"""

from __future__ import annotations

import argparse

from simulation.errors import UserInputError


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "report",
        help="write report.html answering the research questions from stored results",
        description="Write a self-contained HTML report: per research question its figures and the numbers "
        "that answer it (mean across runs with the 5th and 95th percentiles), from the results in DIR.",
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
    try:
        dpi = int(str(args.dpi).strip())
    except ValueError:
        raise UserInputError(f"--dpi: must be a positive integer (got {args.dpi!r})") from None
    if not 10 <= dpi <= 1200:
        raise UserInputError(f"--dpi: must be between 10 and 1200 (got {dpi})")
    if args.out is not None and Path(args.out).is_dir():
        raise UserInputError(f"--out {args.out}: is a folder (give a file name, e.g. report.html)")

    from simulation.output_folders import FileLock, ensure_writable_folder

    page = Path(args.out) if args.out is not None else folder / "report.html"
    ensure_writable_folder(page.absolute().parent, "--out")
    busy = f"--out {page}: another report (pid {{pid}}) is writing this file"

    import matplotlib

    matplotlib.use("Agg")
    from experiments.report import write_report

    with FileLock(page.absolute().parent / f".{page.name}.lock", busy, remove=True):
        path = write_report(folder, args.out, dpi=dpi)
    print(f"report: {path}")
    return 0
