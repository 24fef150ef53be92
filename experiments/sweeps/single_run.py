"""One run of one scenario into a folder (``aimarket run``): the outputs are written into a hidden staging
folder that replaces the output folder only once every file is written, under its lock."""

from __future__ import annotations

import sys
from pathlib import Path


def run_scenario(scenario, out_dir: Path, name: str, show_bar: bool):
    """Simulate ``scenario`` (its ``run.seed`` and ``run.steps``) and write its outputs into ``out_dir``;
    a progress bar on stderr with ``show_bar``. Returns the result and ``{output: path in out_dir}``."""
    from tqdm import tqdm

    from aimarket.simulation.output_folders import staged_folder
    from aimarket.simulation.outputs import RUN_FILES, write_outputs
    from aimarket.simulation.run import simulate

    n_steps = scenario.run.steps
    bar_options = dict(desc=name, unit="step", file=sys.stderr, disable=not show_bar, leave=False)
    with staged_folder(out_dir, replaced=RUN_FILES) as staging:
        with tqdm(total=n_steps, **bar_options) as bar:

            def progress(done: int) -> None:
                bar.update(max(0, done - bar.n))

            result = simulate(scenario, seed=scenario.run.seed, steps=n_steps, progress=progress)
        written = write_outputs(result, staging)
    return result, {key: out_dir / path.name for key, path in written.items()}


__all__ = ["run_scenario"]
