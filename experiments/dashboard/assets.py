"""The dashboard's front-end packages, served from a local folder so the page needs no CDN.

Solara's page loads its JavaScript and CSS from npm packages (the Vuetify app, requirejs,
font-awesome) through the server's asset proxy: ``/_solara/cdn/<package>@<version>/<file>`` is read
from ``SOLARA_ASSETS_PROXY_CACHE_DIR`` and, on a miss, fetched from a CDN. :func:`prepare` fills that
folder once from the npm registry (``npm pack``), so the server never fetches anything and the
browser asks only the server on 127.0.0.1. The packages and versions are read from the installed
solara's page template, so they follow solara upgrades::

    python -m aimarket.experiments.dashboard.assets            # prepare the default folder, print its path
    python -m aimarket.experiments.dashboard.assets --check    # exit 1 (and name the missing) if incomplete

Folder: ``$AIMARKET_SOLARA_ASSETS``, else ``~/.cache/aimarket/solara-assets``.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

#: Environment variable naming the assets folder.
FOLDER_VARIABLE = "AIMARKET_SOLARA_ASSETS"
#: Written into a package's folder once it is complete.
COMPLETE = ".aimarket-complete"
#: ``{{cdn}}/name@version/`` in the page template, ``${this.getCdn()}/name@version/`` in widgets' Vue code.
_PACKAGE_AT_VERSION = re.compile(
    r"(?:\{\{\s*cdn\s*\}\}|getCdn\(\)\})/((?:@[\w.-]+/)?[\w.-]+)@(\d+\.\d+\.\d+[\w.-]*)/")


def folder() -> Path:
    """The assets folder (see the module docstring)."""
    return Path(os.environ.get(FOLDER_VARIABLE) or Path.home() / ".cache" / "aimarket" / "solara-assets")


def _sources() -> str:
    """The page template and the Vue code of solara's own widgets (the grid layout of SolaraViz's
    page among them) for the installed Vuetify major version."""
    import solara

    root = Path(solara.__file__).parent
    v3 = _vuetify_major() >= 3
    files = [root / "server" / "templates" / "solara.html.j2"]
    files += [f for f in sorted((root / "widgets" / "vue").glob("*.vue")) if f.stem.endswith("_v3") == v3]
    return "\n".join(f.read_text(encoding="utf-8") for f in files)


def _vuetify_major() -> int:
    import ipyvuetify

    return int(str(ipyvuetify.__version__).split(".")[0])


def packages() -> list[str]:
    """``name@version`` of every npm package the installed solara's page loads through its proxy."""
    from solara.server.settings import assets

    found = dict.fromkeys(f"{name}@{version}" for name, version in _PACKAGE_AT_VERSION.findall(_sources()))
    app3 = [p for p in found if p.startswith("@widgetti/solara-vuetify3-app@")]
    app2 = [p for p in found if p.startswith("@widgetti/solara-vuetify-app@")]
    for unused in app3 if _vuetify_major() < 3 else app2:  # the page loads one of the two Vuetify apps
        found.pop(unused)
    awesome = re.match(r"/?((?:@[\w.-]+/)?[\w.-]+@\d+\.\d+\.\d+)/", assets.fontawesome_path)
    if assets.fontawesome_enabled and awesome:
        found[awesome.group(1)] = None
    return list(found)


def missing(where: Path | None = None) -> list[str]:
    """The packages not yet complete in the assets folder."""
    where = folder() if where is None else Path(where)
    return [p for p in packages() if not (where / p / COMPLETE).is_file()]


def _unpack(tarball: Path, target: Path) -> None:
    """Extract an ``npm pack`` tarball (files under ``package/``) into ``target``, atomically."""
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    with tarfile.open(tarball) as tar:
        for member in tar.getmembers():
            name = member.name.split("/", 1)[1] if "/" in member.name else ""
            if not name or not (member.isfile() or member.isdir()) or ".." in Path(name).parts:
                continue
            member.name = name
            tar.extract(member, tmp, filter="data")
    (tmp / COMPLETE).write_text(tarball.name + "\n")
    shutil.rmtree(target, ignore_errors=True)
    os.rename(tmp, target)


def prepare(where: Path | None = None, npm: str = "npm") -> Path:
    """Fetch every missing package with ``npm pack`` into ``where`` (default :func:`folder`);
    packages already complete are kept. Raises RuntimeError naming the package npm could not fetch."""
    where = folder() if where is None else Path(where)
    todo = missing(where)
    if todo and shutil.which(npm) is None:
        raise RuntimeError(f"npm not found: needed to fetch {', '.join(todo)} (install npm, e.g. apt-get install npm)")
    for package in todo:
        with tempfile.TemporaryDirectory() as tmp:
            done = subprocess.run([npm, "pack", package, "--silent", "--pack-destination", tmp], cwd=tmp,
                                  capture_output=True, text=True, timeout=600)
            tarballs = sorted(Path(tmp).glob("*.tgz"))
            if done.returncode != 0 or not tarballs:
                reason = " ".join((done.stderr or done.stdout).split())[:300]
                raise RuntimeError(f"npm pack {package} failed: {reason or 'no tarball'}")
            _unpack(tarballs[0], where / package)
    return where


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aimarket.experiments.dashboard.assets",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--folder", default=None, help=f"assets folder (default: ${FOLDER_VARIABLE} or "
                        "~/.cache/aimarket/solara-assets)")
    parser.add_argument("--check", action="store_true", help="only check: exit 1 if a package is missing")
    args = parser.parse_args(argv)
    where = Path(args.folder) if args.folder else folder()
    if args.check:
        absent = missing(where)
        if absent:
            print(f"{where}: missing {', '.join(absent)}", file=sys.stderr)
            return 1
        print(where)
        return 0
    try:
        prepare(where)
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        print(f"solara assets: {exc}", file=sys.stderr)
        return 1
    print(where)
    return 0


if __name__ == "__main__":
    sys.exit(main())
