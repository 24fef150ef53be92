"""``python -m aimarket.experiments.questions list|run ...``: the same as ``aimarket questions ...``."""

from __future__ import annotations

import sys

from aimarket.experiments.cli import main as cli_main


def main(argv=None) -> int:
    return cli_main(["questions", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
