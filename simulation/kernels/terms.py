"""The count of logit terms: every ``exp`` the kernels evaluate (logit choice, the success law L6 and
the best-response solves), so that a benchmark can set a run's time against the time the same number of
bare ``exp`` calls takes on the machine (the "exp-count limit", benchmarks/step_time.py).

Each compiled kernel adds its count to ``terms[0]`` once per pass over users, so the count costs one
integer addition per pass; the public wrappers pass :data:`LOGIT_TERMS`, one counter per process.
"""

from __future__ import annotations

import numpy as np

LOGIT_TERMS = np.zeros(1, dtype=np.int64)  # exps evaluated by the kernels in this process


def logit_terms() -> int:
    """Logit terms evaluated in this process since the last :func:`reset_logit_terms`."""
    return int(LOGIT_TERMS[0])


def reset_logit_terms() -> None:
    LOGIT_TERMS[0] = 0
