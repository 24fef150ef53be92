"""How ``aimarket dashboard`` serves the app: the ``solara run`` command line and its environment."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def server_command(scenario: str | None, host: str, port: int) -> tuple[list[str], dict[str, str]]:
    """The ``solara run`` command line and environment that serve the dashboard."""
    from aimarket.experiments.dashboard import app, assets

    env = dict(os.environ)
    env["SOLARA_TELEMETRY_MIXPANEL_ENABLE"] = "False"
    env["SOLARA_ASSETS_PROXY_CACHE_DIR"] = str(assets.folder())
    if scenario is not None:
        env[app.SCENARIO_VARIABLE] = str(Path(scenario).resolve())
    else:
        env.pop(app.SCENARIO_VARIABLE, None)
    command = [sys.executable, "-m", "solara", "run", app.__file__, "--host", host, "--port", str(port),
               "--no-open", "--no-check-version", "--production"]
    return command, env


__all__ = ["server_command"]
