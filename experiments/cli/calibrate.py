"""``aimarket calibrate``: one run of a scenario against observed targets, or a fit of parameters to them.

    aimarket calibrate [SCENARIO] [--targets FILE] [--steps N] [--seed N] [--set KEY=VALUE ...]
                       [--fit PARAM[=LOW:HIGH] ...] [--max-evals N] [--diff-step H] [--out FILE] [--quiet]
    aimarket calibrate --list-quantities

Exit status 0 when every row is within its tolerance, 1 when some row is outside it, 2 for bad input
(one line, before anything is simulated or written). The logic is in :mod:`aimarket.experiments.calibration`.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from aimarket.experiments.cli.run import _integer
from aimarket.simulation.errors import UserInputError


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "calibrate",
        help="compare a scenario's first years with observed targets; fit parameters to them",
        description="Run SCENARIO once and print, for every row of the targets file, the model's value, the "
        "observed value and the factor between them; exit 1 when a row is outside its tolerance. With --fit, "
        "fit the named scenario parameters by least squares on log ratios and write the calibrated scenario.",
    )
    parser.add_argument("scenario", nargs="?", default=None, metavar="SCENARIO",
                        help="scenario TOML file (default: the packaged default scenario)")
    parser.add_argument("--targets", metavar="FILE", default=None,
                        help="targets file (default: the packaged scenarios/targets_2025.toml)")
    parser.add_argument("--steps", metavar="N", default=None,
                        help="steps to simulate (default: the fewest that cover every target's years)")
    parser.add_argument("--seed", metavar="N", default=None, help="root seed (default: the scenario's run.seed)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a scenario value, as for aimarket run (repeatable)")
    parser.add_argument("--fit", dest="fit", action="append", default=[], metavar="PARAM[=LOW:HIGH]",
                        help="a positive real scenario value to fit, by dotted key, optionally bounded, e.g. "
                        "--fit users.logit_scale=0.01:10 or --fit tasks.reasoning.tasks_per_step (repeatable)")
    parser.add_argument("--max-evals", metavar="N", default="60",
                        help="cap on simulations during a fit (default: 60)")
    parser.add_argument("--diff-step", metavar="H", default="0.02",
                        help="finite-difference step on the log of each fitted parameter (default: 0.02)")
    parser.add_argument("--out", metavar="FILE", default=None,
                        help="calibrated scenario to write with --fit (default: runs/<scenario name>-calibrated.toml)")
    parser.add_argument("--quiet", action="store_true", help="no progress lines during a fit")
    parser.add_argument("--list-quantities", action="store_true",
                        help="print the model quantities a target may name, and exit")
    parser.set_defaults(func=calibrate_command)
    return parser


def _positive_float(option: str, text: str) -> float:
    try:
        value = float(str(text).strip())
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and 0 < value < 1):
        raise UserInputError(f"{option}: must be a number between 0 and 1 (got {text!r})")
    return value


def calibrate_command(args: argparse.Namespace) -> int:
    from aimarket.experiments import calibration

    if args.list_quantities:
        print("\n".join(calibration.registry_lines()))
        return 0
    from aimarket.simulation.scenario.loading import load_scenario
    from aimarket.simulation.scenario.overrides import parse_set_option

    steps = _integer("--steps", args.steps, 1)
    seed = _integer("--seed", args.seed, 0)
    max_evals = _integer("--max-evals", args.max_evals, 1)
    diff_step = _positive_float("--diff-step", args.diff_step)
    if args.out is not None and not str(args.out).strip():
        raise UserInputError("--out: must be a file path (got '')")
    scenario_path = Path(args.scenario) if args.scenario is not None else None
    overrides = [parse_set_option(option) for option in args.overrides]
    if seed is not None:
        overrides.append(("run.seed", seed))
    scenario = load_scenario(scenario_path, overrides)
    label = str(scenario_path) if scenario_path is not None else "scenarios/default.toml"
    return calibration.calibrate(scenario, scenario_label=label, targets_path=args.targets, steps=steps,
                                 fit_options=args.fit, out=args.out, max_evals=max_evals, diff_step=diff_step,
                                 quiet=args.quiet, settings=args.overrides)
