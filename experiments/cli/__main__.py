"""``python -m aimarket.experiments.cli ...``: the same as ``aimarket ...``."""

from __future__ import annotations

import sys

from aimarket.experiments.cli import main

if __name__ == "__main__":
    sys.exit(main())
