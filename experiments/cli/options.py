"""Parsers of option values shared by the subcommands (errors are one-line UserInputErrors)."""

from __future__ import annotations

from aimarket.simulation.errors import UserInputError


def bounded_integer(option: str, text, low: int, high: int) -> int:
    """The integer in ``text`` for ``option`` (e.g. ``--dpi``), which must lie in ``[low, high]``."""
    try:
        value = int(str(text).strip())
    except ValueError:
        raise UserInputError(f"{option}: must be an integer between {low} and {high} (got {text!r})") from None
    if not low <= value <= high:
        raise UserInputError(f"{option}: must be an integer between {low} and {high} (got {value})")
    return value
