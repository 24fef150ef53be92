"""``aimarket scenarios``: list the scenarios that ship with the package, or copy one out for editing.

    aimarket scenarios [list]
    aimarket scenarios copy NAME DEST [--force]

The packaged scenarios are the files of the repository's ``scenarios/`` folder, installed as the package
``aimarket.scenarios`` (:mod:`aimarket.resources`, which also copies them). ``copy`` writes
``NAME.toml`` to DEST (a folder, or a file path ending in ``.toml``) together with the files it
``extends`` (under their own names, next to it), so that the copy runs as it is: ``aimarket run DEST``.
Existing files are kept unless ``--force`` (a base file already there with the same contents is fine).
Bad input (an unknown name, a file in the way) is one line and exit status 2.
"""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "scenarios",
        help="list the packaged scenarios, or copy one out for editing",
        description="The scenarios that ship with aimarket (the repository's scenarios/ folder). "
        "'aimarket run' without a scenario runs the packaged default.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", parser_class=type(parser))
    actions.add_parser("list", help="list the packaged scenarios (the default action)")
    copier = actions.add_parser(
        "copy", help="write a packaged scenario (and the files it extends) to DEST",
        description="Write the packaged scenario NAME to DEST (a folder, or a .toml file path), with the "
        "scenario files it extends next to it, so that 'aimarket run DEST' runs the copy.",
    )
    copier.add_argument("name", metavar="NAME", help="a packaged scenario, e.g. default (see 'aimarket scenarios')")
    copier.add_argument("dest", metavar="DEST", help="a folder, or a file path ending in .toml")
    copier.add_argument("--force", action="store_true", help="overwrite files that exist")
    parser.set_defaults(func=scenarios_command)
    return parser


def scenarios_command(args: argparse.Namespace) -> int:
    from aimarket.resources import copy_scenario, describe, scenario_file, scenario_names, scenarios_folder

    if args.action == "copy":
        written = copy_scenario(args.name, args.dest, force=args.force)
        for path in written:
            print(f"wrote {path}")
        if not written:
            print(f"{args.dest}: already holds this scenario (nothing written)")
        return 0
    names = scenario_names()
    width = max(len(n) for n in names)
    print(f"packaged scenarios (in {scenarios_folder()}):")
    for name in names:
        print(f"  {name:<{width}}  {describe(scenario_file(name))}")
    print("run one with 'aimarket run <file>'; 'aimarket run' alone runs default; copy one out to edit it: "
          "aimarket scenarios copy NAME DEST")
    return 0
