"""``aimarket dashboard``: the interactive dashboard (Mesa's SolaraViz) of a scenario in the browser.

    aimarket dashboard [SCENARIO] [--port P] [--host 127.0.0.1]

Serves experiments/dashboard/app.py with ``solara run`` on http://HOST:PORT/ until interrupted
(Ctrl-C). Binds to the loopback address unless --host says otherwise. The page's front-end
packages come from the local folder prepared by ``python -m aimarket.experiments.dashboard.assets``; without
it, solara's server fetches them from its CDN on first use. Needs the ``viz`` extra
(``pip install 'aimarket[viz]'``).
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys
from pathlib import Path

from aimarket.simulation.errors import UserInputError

DEFAULT_PORT = 8765


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "dashboard",
        help="explore a scenario interactively in the browser (Mesa SolaraViz)",
        description="Serve an interactive page of the market model: key parameters as inputs, Step / Play / "
        "Reset, and live plots of concentration, prices, shares by lab, frontier capability, inference "
        "share and regulation. The model samples fewer users than a full run (shown on the page).",
    )
    parser.add_argument("scenario", metavar="SCENARIO", nargs="?", default=None,
                        help="scenario file (default: the packaged default scenario)")
    parser.add_argument("--port", default=str(DEFAULT_PORT), metavar="P",
                        help=f"TCP port (default: {DEFAULT_PORT}; 0 picks a free port)")
    parser.add_argument("--host", default="127.0.0.1", metavar="ADDRESS",
                        help="address to listen on (default: 127.0.0.1, this machine only)")
    parser.set_defaults(func=dashboard_command)
    return parser


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def dashboard_command(args: argparse.Namespace) -> int:
    from aimarket.experiments.cli.options import bounded_integer

    port = bounded_integer("--port", args.port, 0, 65535)
    host = str(args.host).strip()
    if not host:
        raise UserInputError("--host: give an address to listen on, e.g. 127.0.0.1")
    if args.scenario is not None:
        from aimarket.simulation.scenario.loading import load_scenario

        if not Path(args.scenario).is_file():
            raise UserInputError(f"{args.scenario}: scenario file not found")
        load_scenario(args.scenario)  # a bad scenario is one line here, not a traceback in the server
    try:
        from aimarket.experiments.dashboard import assets
    except ModuleNotFoundError as exc:
        raise UserInputError(f"the dashboard needs the 'viz' extra ({exc.name} is missing): "
                             "pip install 'aimarket[viz]'") from None
    if not _is_loopback(host):
        print(f"aimarket: warning: --host {host} serves the dashboard to other machines", file=sys.stderr)
    absent = assets.missing()
    if absent:
        print(f"aimarket: warning: front-end packages not in {assets.folder()} ({', '.join(absent)}); "
              "solara fetches them from its CDN. Prepare them once with: "
              "python -m aimarket.experiments.dashboard.assets",
              file=sys.stderr)
    from aimarket.experiments.dashboard.server import server_command

    command, env = server_command(args.scenario, host, port)
    print(f"dashboard: http://{host}:{port}/ (Ctrl-C stops it)" if port else "dashboard: starting", flush=True)
    os.execve(command[0], command, env)  # this process becomes the server: its PID stops it
    return 0
