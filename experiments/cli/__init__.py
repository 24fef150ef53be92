"""The ``aimarket`` command line: one entry point, one module per subcommand.

Each subcommand lives in ``experiments/cli/<name>.py`` and exposes ``add_parser(subparsers)``, which
registers its parser and sets ``func(args) -> int`` (``python -m aimarket.experiments.cli`` runs it too).
Bad user input (a :class:`~aimarket.simulation.errors.UserInputError` raised anywhere, or an argparse usage
error) prints one line ``aimarket: error: <message>`` to stderr and exits with status 2, without a
traceback. An environment fault (a :class:`~aimarket.simulation.errors.EnvironmentFault` or an ``OSError``:
a full disk, an unreachable scheduler) and a :class:`~aimarket.simulation.errors.SimulationError` print one
line and exit 1.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from aimarket.simulation.errors import EnvironmentFault, SimulationError, UserInputError

#: Subcommand modules under ``aimarket.experiments.cli``, in the order shown by ``--help``.
COMMANDS = ("run", "scenarios", "calibrate", "sweep", "sensitivity", "questions", "figures", "plot", "report",
            "dashboard")

PROG = "aimarket"


def version() -> str:
    """The installed distribution's version (``0.1.0`` when running from a source tree)."""
    try:
        from importlib.metadata import PackageNotFoundError
        from importlib.metadata import version as _version

        return _version("aimarket")
    except PackageNotFoundError:
        return "0.1.0"


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are a single line on stderr (exit status 2)."""

    def error(self, message: str) -> NoReturn:
        message = " ".join(str(message).split())
        self.exit(2, f"{PROG}: error: {message} (see '{self.prog} --help')\n")



def _load_command_modules() -> list:
    modules = []
    for name in COMMANDS:
        module_name = f"aimarket.experiments.cli.{name}"
        try:
            modules.append(importlib.import_module(module_name))
        except ModuleNotFoundError as exc:
            if exc.name != module_name:  # a missing dependency inside the module is a real error
                raise
    return modules


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every available subcommand registered."""
    parser = OneLineParser(
        prog=PROG,
        description="Simulate the AI industry: labs choose pre-training versus inference compute, users "
        "choose providers by logit demand, labs set Bertrand prices, a regulator sets thresholds.",
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {version()}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    subparsers.required = True
    for module in _load_command_modules():
        module.add_parser(subparsers)
    return parser


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``) and return the exit status."""
    try:
        parser = build_parser()
        try:
            args = parser.parse_args(list(argv) if argv is not None else None)
        except SystemExit as exc:  # usage errors (2), --help and --version (0)
            code = exc.code
            return code if isinstance(code, int) else (0 if code is None else 2)
        return int(args.func(args) or 0)
    except UserInputError as exc:
        print(f"{PROG}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except SimulationError as exc:
        print(f"{PROG}: simulation failed: {_one_line(exc)}", file=sys.stderr)
        return 1
    except EnvironmentFault as exc:
        print(f"{PROG}: error: {_one_line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into a reader that stopped (e.g. `| head`)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:  # an environment fault no command translated: still one line, exit 1
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"{PROG}: error: {where}{_one_line(exc.strerror or exc)}", file=sys.stderr)
        return 1

