"""``aimarket scenarios``: list the scenarios that ship with the package, or copy one out for editing.

    aimarket scenarios [list]
    aimarket scenarios copy NAME DEST [--force]

The packaged scenarios are the files of the repository's ``scenarios/`` folder, installed as the
package ``aimarket.scenarios`` (:mod:`aimarket.resources`). ``copy`` writes ``NAME.toml`` to DEST (a
folder, or a file path ending in ``.toml``) together with the files it ``extends`` (under their own
names, next to it), so that the copy runs as it is: ``aimarket run DEST``. Existing files are kept
unless ``--force`` (a base file already there with the same contents is fine). Bad input (an unknown
name, a file in the way) is one line and exit status 2.
"""

from __future__ import annotations

import argparse
import tomllib
from pathlib import Path

from aimarket.simulation.errors import UserInputError


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


def describe(path: Path) -> str:
    """The first comment line of a scenario file, without ``#`` (empty when it has none)."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return ""
    for line in lines:
        text = line.strip()
        if text.startswith("#") and text.lstrip("#").strip():
            return text.lstrip("#").strip()
        if text and not text.startswith("#"):
            break
    return ""


def packaged(name: str) -> Path:
    """The packaged scenario ``name`` (``default`` or ``default.toml``), or a one-line UserInputError."""
    from aimarket.resources import scenario_file, scenario_names

    names = scenario_names()
    stem = Path(str(name)).name.removesuffix(".toml")
    if stem not in names or Path(str(name)).name != str(name):
        raise UserInputError(f"unknown packaged scenario {name!r} (allowed: {', '.join(names)})")
    return scenario_file(stem)


def base_chain(path: Path) -> list[Path]:
    """``path`` and the packaged files it extends, nearest first."""
    chain = [path]
    while True:
        with chain[-1].open("rb") as fh:
            base = tomllib.load(fh).get("extends")
        if not isinstance(base, str):
            return chain
        nxt = (chain[-1].parent / base).resolve()
        if nxt in chain or not nxt.is_file():
            return chain
        chain.append(nxt)


def copy_scenario(name: str, dest: str | Path, force: bool = False) -> list[Path]:
    """Write the packaged scenario ``name`` and its bases to ``dest``; return the paths written (a file
    already there with the same contents is left as it is and not returned)."""
    from aimarket.simulation.output_folders import ensure_writable_folder
    from aimarket.simulation.outputs import atomic_write

    source = packaged(name)
    dest = Path(dest)
    if not str(dest).strip():
        raise UserInputError("DEST: must be a folder or a .toml file path (got '')")
    target = dest / source.name if dest.is_dir() or dest.suffix != ".toml" else dest
    chain = base_chain(source)
    plan = [(source, target)] + [(base, target.parent / base.name) for base in chain[1:]]
    for src, dst in plan:
        if dst.is_dir():
            raise UserInputError(f"{dst}: is a folder (give a .toml file path or a folder to copy into)")
        same = dst.is_file() and dst.read_bytes() == src.read_bytes()
        if dst.exists() and not same and not force:
            raise UserInputError(f"{dst}: exists (use --force to overwrite it)")
    ensure_writable_folder(target.parent, "DEST")
    written = []
    for src, dst in plan:
        data = src.read_bytes()
        if dst.is_file() and dst.read_bytes() == data:
            continue
        written.append(atomic_write(dst, lambda tmp, data=data: tmp.write_bytes(data)))
    return written


def scenarios_command(args: argparse.Namespace) -> int:
    from aimarket.resources import scenario_file, scenario_names, scenarios_folder

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
