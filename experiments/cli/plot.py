"""``aimarket plot``: one output of any sweep against time or a factor, mean and band across runs.

    aimarket plot DIR --y OUTPUT [--x step|year|FACTOR] [--by FACTOR[,FACTOR]] [--out FILE] [--dpi N]

Writes FILE (default DIR/plots/<y>_vs_<x>[_by_<factors>].png; .pdf and .svg too) in the aimarket
publication style, and the data drawn (mean, 5th and 95th percentile, n per point) as the .csv
beside it. Nothing is simulated.
"""

from __future__ import annotations

import argparse

from aimarket.simulation.errors import UserInputError


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "plot",
        help="plot one output of any sweep against time or a factor",
        description="Plot the mean and a 5-95%% band across runs of one output of the sweep in DIR "
        "(a timeseries column or a summary entry) against step, year or a factor, one line per setting of "
        "--by; n runs per point in the legend; the data drawn is written as CSV beside the figure.",
    )
    parser.add_argument("dir", metavar="DIR", help="a sweep folder, e.g. results/smoke")
    parser.add_argument("--y", required=True, metavar="OUTPUT", help="e.g. hhi, price_reasoning, final_hhi")
    parser.add_argument("--x", default="step", metavar="AXIS", help="step, year or a factor (default: step)")
    parser.add_argument("--by", default="", metavar="FACTORS", help="factor(s), comma-separated: one line per setting")
    parser.add_argument("--out", default=None, metavar="FILE", help="figure file (.png, .pdf, .svg)")
    parser.add_argument("--dpi", default="300", metavar="N", help="resolution of PNG files (default: 300)")
    parser.set_defaults(func=plot_command)
    return parser


def plot_command(args: argparse.Namespace) -> int:
    from pathlib import Path

    from aimarket.experiments.cli.options import bounded_integer

    folder = Path(args.dir)
    if not (folder / "manifest.json").is_file():
        raise UserInputError(f"{folder}: not a sweep folder (no manifest.json; give the --out folder of a sweep)")
    dpi = bounded_integer("--dpi", args.dpi, 10, 2400)
    by = [b.strip() for b in str(args.by).split(",") if b.strip()]

    import matplotlib

    matplotlib.use("Agg")
    from aimarket.experiments.analysis.plot import plot_output, write_plot

    figure = plot_output(folder, args.y, args.x, by)
    out = Path(args.out) if args.out else folder / "plots" / f"{figure.name}.png"
    if out.is_dir():
        raise UserInputError(f"--out {out}: is a folder (give a file name, e.g. hhi.png)")
    paths = write_plot(figure, out, dpi=dpi)
    figure.close()
    print(f"plot: {paths[0]}\ndata: {paths[1]}")
    return 0
