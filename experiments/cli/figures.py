"""``aimarket figures``: redraw every research-question figure from stored results.

    aimarket figures DIR [--out FIGDIR] [--question Q ...] [--format pdf,png] [--dpi N]

DIR is a results root (one sweep folder per experiment of experiments/questions/, e.g. the folder
given to ``aimarket questions run ... --out DIR``) or a single sweep folder. Nothing is simulated.
Writes FIGDIR/<figure>.pdf, .png (300 dpi) and .csv (the data drawn); FIGDIR defaults to DIR/figures.
FIGDIR is checked and locked before drawing; the figures are drawn into a hidden sibling folder that
replaces FIGDIR only when every figure was drawn (figures of other questions already there are kept).
"""

from __future__ import annotations

import argparse

from aimarket.simulation.errors import UserInputError

FORMATS = ("pdf", "png", "svg")


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "figures",
        help="redraw the research-question figures from stored results",
        description="Redraw every figure of the research-question experiments found in DIR (a results "
        "folder with one sweep per experiment, or one sweep folder) from the stored results, without "
        "running the model: PDF (vector), PNG (300 dpi) and the data drawn (CSV), in the aimarket style.",
    )
    parser.add_argument("dir", metavar="DIR", help="results folder, e.g. results/quick")
    parser.add_argument("--out", metavar="FIGDIR", default=None, help="output folder (default: DIR/figures)")
    parser.add_argument(
        "--question", dest="questions", action="append", default=None, metavar="Q",
        help="only this question, q1..q6 (repeatable; default: every question with results)",
    )
    parser.add_argument(
        "--format", dest="formats", default="pdf,png", metavar="LIST",
        help="comma-separated file formats among pdf, png, svg (default: pdf,png)",
    )
    parser.add_argument("--dpi", default="300", metavar="N", help="resolution of PNG files (default: 300)")
    parser.set_defaults(func=figures_command)
    return parser


def _formats(text: str) -> tuple[str, ...]:
    formats = tuple(f.strip().lower() for f in str(text).split(",") if f.strip())
    bad = [f for f in formats if f not in FORMATS]
    if not formats or bad:
        raise UserInputError(f"--format: must list formats among {', '.join(FORMATS)} (got {text!r})")
    return formats


def _dpi(text: str) -> int:
    from aimarket.experiments.cli.options import bounded_integer

    return bounded_integer("--dpi", text, 10, 2400)


def figures_command(args: argparse.Namespace) -> int:
    from pathlib import Path

    from aimarket.experiments.questions import get

    formats, dpi = _formats(args.formats), _dpi(args.dpi)
    questions = [get(q).id for q in args.questions] if args.questions else None
    folder = Path(args.dir)
    if not folder.is_dir():
        raise UserInputError(f"{folder}: not a folder (give a results folder, e.g. results/quick)")
    out = Path(args.out) if args.out is not None else folder / "figures"

    import matplotlib

    matplotlib.use("Agg")
    from aimarket.experiments.questions.paper_figures import write_figures

    written = write_figures(folder, out, formats=formats, dpi=dpi, questions=questions)
    print(f"{len(written)} figures in {out}/:")
    for name, paths in written.items():
        print(f"  {name:<20} {', '.join(p.suffix.lstrip('.') for p in paths)}")
    return 0
