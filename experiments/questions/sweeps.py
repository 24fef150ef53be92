"""The research-question sweeps of a results root, opened when first used: :class:`Sweeps`, the source
every figure and answer of the questions reads (a results root such as ``results/quick``, one sweep
folder, a mapping ``{experiment name: folder or SweepResults}`` or another :class:`Sweeps`)."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from aimarket.experiments.analysis.figures import MissingResults
from aimarket.experiments.questions import find_sweeps


class Sweeps(Mapping):
    """The research-question sweeps of a results root: ``{experiment name: SweepResults}``.

    ``source``: a results root, one sweep folder, a mapping ``{experiment name: folder or
    SweepResults}``, or another :class:`Sweeps`. Folders are opened when first used.
    """

    def __init__(self, source: Any):
        self._loaded: dict[str, Any] = {}
        if isinstance(source, Sweeps):
            self.path = source.path
            self.folders = dict(source.folders)
            self._loaded = source._loaded
            return
        if isinstance(source, Mapping):
            self.path = None
            self.folders = {}
            for name, value in source.items():
                if isinstance(value, str | os.PathLike):
                    self.folders[name] = Path(value)
                else:
                    self.folders[name] = Path(value.path)
                    self._loaded[name] = value
            return
        self.path = Path(source)
        self.folders = find_sweeps(self.path)

    def __getitem__(self, name: str):
        if name not in self.folders:
            raise KeyError(name)
        if name not in self._loaded:
            from aimarket.experiments.sweeps.store import load

            self._loaded[name] = load(self.folders[name])
        return self._loaded[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.folders)

    def __len__(self) -> int:
        return len(self.folders)

    def __repr__(self) -> str:
        return f"Sweeps({str(self.path) if self.path else ''!r}, {sorted(self.folders)})"

    def require(self, *names: str) -> list[str]:
        """The experiments among ``names`` that have finished runs; MissingResults if none has."""
        present = [n for n in names if n in self.folders and len(self[n].done) > 0]
        if not present:
            where = self.path if self.path is not None else "the given sweeps"
            raise MissingResults(
                f"{where}: no finished runs of {' or '.join(names)} "
                f"(run: aimarket questions run {names[0].split('_')[0]} --out DIR)"
            )
        return present


def sweeps(source: Any) -> Sweeps:
    return source if isinstance(source, Sweeps) else Sweeps(source)


def sources(sw: Sweeps, names) -> dict[str, str]:
    return {n: str(sw.folders[n]) for n in names}


__all__ = ["Sweeps", "sweeps", "sources"]
