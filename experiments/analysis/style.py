"""The publication style of every aimarket figure: the matplotlib style file and the colours, line
styles and markers drawn in its order (shared by the figures, ``aimarket plot`` and the dashboard).

Style: ``experiments/aimarket.mplstyle`` (Okabe-Ito colours, TrueType fonts in PDFs).
"""

from __future__ import annotations

from contextlib import contextmanager

from aimarket.resources import style_file

#: The publication style shipped with the package.
STYLE = style_file()  # experiments/aimarket.mplstyle, found with importlib.resources
#: Okabe-Ito colours, in the order of the style's colour cycle.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
LINESTYLES = ("-", "--", ":", "-.")
MARKERS = ("o", "s", "^", "D", "v", "P")


@contextmanager
def style():
    """The aimarket publication style as a matplotlib rc context."""
    import matplotlib.style

    with matplotlib.style.context(STYLE):
        yield


__all__ = ["STYLE", "PALETTE", "LINESTYLES", "MARKERS", "style"]
