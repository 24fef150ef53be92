"""``python -m experiments.questions list|run ...``: the ``aimarket questions`` command (see
:mod:`experiments.commands.questions`), usable whether or not the ``aimarket`` entry point lists it."""

from __future__ import annotations

import sys

from experiments.cli import OneLineParser, _one_line
from experiments.commands.questions import add_actions
from simulation.errors import SimulationError, UserInputError


def main(argv=None) -> int:
    parser = OneLineParser(prog="python -m experiments.questions",
                           description="List or run the research-question experiments.")
    add_actions(parser)
    try:
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:
            return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
        return int(args.func(args) or 0)
    except UserInputError as exc:
        print(f"aimarket: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except SimulationError as exc:
        print(f"aimarket: simulation failed: {_one_line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("aimarket: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
