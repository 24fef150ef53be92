"""``aimarket questions``: list and run the research-question experiments (experiments/questions/).

    aimarket questions list
    aimarket questions run QUESTION|all [--size quick|paper] [--out DIR] [--workers N]
                           [--scheduler ADDRESS | --scheduler-file FILE] [--quiet]

``run`` sweeps each experiment of the question into DIR/<experiment> (DIR defaults to results/<size>),
continuing a sweep already there (finished runs are kept), then ``aimarket figures DIR`` and
``aimarket report DIR`` draw and report them. Also available as ``python -m aimarket.experiments.questions``.
Exit status: 0 every run done, 1 some runs failed, 2 bad input, 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys

from aimarket.experiments.cli.sweep import parse_workers
from aimarket.simulation.errors import UserInputError


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "questions",
        help="list or run the research-question experiments",
        description="The experiments that answer the research questions (docs/ODD.md §1.1), in a quick "
        "size (seconds) and a paper size (many replications). 'run' sweeps them into a results folder.",
    )
    add_actions(parser)
    return parser


def add_actions(parser: argparse.ArgumentParser) -> None:
    """Register the ``list`` and ``run`` actions on ``parser`` (also used by ``python -m
    aimarket.experiments.questions``)."""
    actions = parser.add_subparsers(dest="action", metavar="ACTION", parser_class=type(parser))
    actions.required = True
    lister = actions.add_parser("list", help="list the questions, their experiment files and notebooks")
    lister.set_defaults(func=list_command)
    runner = actions.add_parser(
        "run",
        help="run a question's experiments (or all) into a results folder",
        description="Sweep the experiments of QUESTION (q1..q6 or all) in the given size into DIR/<experiment>, "
        "resuming any sweep already there.",
    )
    runner.add_argument("question", metavar="QUESTION", help="q1..q6, or all")
    runner.add_argument("--size", choices=("quick", "paper"), default="quick", help="experiment size (default: quick)")
    runner.add_argument("--out", metavar="DIR", default=None, help="results folder (default: results/<size>)")
    runner.add_argument(
        "--workers", metavar="N", default=None, help="local worker processes (default: usable cores; 0 = this process)"
    )
    where = runner.add_mutually_exclusive_group()
    where.add_argument("--scheduler", metavar="ADDRESS", default=None, help="run on an existing Dask cluster")
    where.add_argument("--scheduler-file", metavar="FILE", default=None, help="Dask scheduler file")
    runner.add_argument("--quiet", action="store_true", help="no progress bar")
    runner.set_defaults(func=run_command)


def list_command(args: argparse.Namespace) -> int:
    from aimarket.experiments.questions import QUESTIONS, SIZES, experiment_file

    for q in QUESTIONS.values():
        print(f"{q.id}  {q.title}  (notebooks/{q.notebook})")
        for name in q.experiments:
            files = ", ".join(str(experiment_file(name, size).name) for size in SIZES)
            print(f"      {name}: {files}")
    return 0


def run_command(args: argparse.Namespace) -> int:
    from pathlib import Path

    from aimarket.experiments.questions import run, select

    select(args.question)  # an unknown question is one line before anything runs
    workers = parse_workers(args.workers)
    if args.out is not None and not str(args.out).strip():
        raise UserInputError("--out: must be a folder path (got '')")
    root = Path(args.out) if args.out is not None else Path("results") / args.size

    def on_report(q, report) -> None:
        print(f"{q.id} {report.line()}", file=sys.stderr)
        for failure in report.failed[:5]:
            print(f"  run {failure['run_id']} failed: {failure['error']}", file=sys.stderr)

    reports = run(args.question, args.size, root, workers=workers, resume=True, on_report=on_report,
                  scheduler=args.scheduler, scheduler_file=args.scheduler_file,
                  progress=False if args.quiet else None)
    complete = all(report.complete for report in reports.values())
    print(f"results in {root}/; next: aimarket figures {root} && aimarket report {root}")
    return 0 if complete else 1
