"""The dashboard: its inputs are scenario fields, its model is the market model, a step is fast, and
the page works in a real browser (chromium driven by Playwright) without leaving the loopback address."""

from __future__ import annotations

import math
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import pytest

pytest.importorskip("solara", reason="the dashboard needs the 'viz' extra: pip install 'aimarket[viz]'")

from aimarket.experiments.dashboard import controls  # noqa: E402
from aimarket.experiments.dashboard.model import DashboardModel, series_names  # noqa: E402
from aimarket.simulation.model import MarketModel  # noqa: E402
from aimarket.simulation.scenario.loading import load_scenario  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def direct_run(overrides: dict, steps: int) -> dict:
    """The last timeseries row of the market model run directly (no dashboard code) with ``overrides``."""
    scenario = load_scenario(None, overrides)
    model = MarketModel(scenario, seed=scenario.run.seed)
    for _ in range(steps):
        model.step()
    return model.recorder.timeseries[-1]


def test_every_control_is_a_scenario_field():
    base = load_scenario()
    for control in controls.expanded(base):
        value = controls.scenario_override(control, controls.widget_value(control, controls.scenario_value(
            base, control.key)))
        load_scenario(None, {control.key: value})  # raises ScenarioError naming a key the schema lacks


def test_inputs_reach_the_market_model():
    base = load_scenario()
    inputs = {"regulator.policy": "training_threshold", "regulator.threshold_flop": 25.5, "demand.market_scale": 1.0}
    model = DashboardModel(**inputs)
    assert model.config.users.count == controls.DASHBOARD_USERS < base.users.count
    assert model.config.regulator.threshold_flop == pytest.approx(10**25.5)
    assert model.config.demand.market_scale == pytest.approx(10.0)
    assert model.steps_done == 1  # built with step 0 done: the page opens on the 2025 market
    for _ in range(3):
        model.step()
    expected = direct_run(model.overrides, 4)
    frame = model.datacollector.get_model_vars_dataframe()
    assert len(frame) == 4
    for name, column in series_names(base.task_names).items():
        value = expected[column]
        assert frame[name].iloc[-1] == pytest.approx(math.nan if value is None else value, nan_ok=True), name
    shares = model.grouped_lab_shares(named=2)
    assert len(shares) == 3 and next(reversed(shares)).startswith("other labs")
    assert sum(values[-1] for values in shares.values()) == pytest.approx(1.0)


def test_invalid_inputs_are_shown_not_raised():
    model = DashboardModel(**{"users.count": 0})
    assert "users.count" in model.error and not model.running
    model.step()
    assert model.steps_done == 0


def test_a_step_takes_under_half_a_second_of_compute():
    """Each Step press (a quarter after the 2025 market that Reset builds) is fast; Reset itself solves
    the brand terms of step 0 and may take a second or two."""
    from aimarket.simulation.run import warm_up

    warm_up()
    model = DashboardModel()
    times = []
    for _ in range(12):  # three pre-training decisions (every 4 steps), the slowest steps
        start = time.process_time()
        model.step()
        times.append(time.process_time() - start)
    assert max(times) < 0.5, times


# ----------------------------------------------------------------------------- in the browser


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _on_loopback(url: str) -> bool:
    parsed = urlparse(url)
    if parsed.scheme in ("data", "blob", "about"):
        inner = urlparse(parsed.path) if parsed.scheme == "blob" else None
        return inner is None or inner.hostname in ("127.0.0.1", "localhost")
    return parsed.hostname in ("127.0.0.1", "localhost")


@pytest.fixture
def dashboard_server(tmp_path):
    """``aimarket dashboard`` on a free port of 127.0.0.1; stopped by its PID afterwards."""
    from aimarket.experiments.dashboard import assets

    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not found and could not be installed (apt-get install chromium): no browser")
    if assets.missing():
        try:
            assets.prepare()
        except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
            pytest.skip(f"the page's front-end packages could not be fetched from npm: {exc}")
    port = _free_port()
    log = open(tmp_path / "server.log", "w")
    # a cache miss goes to a dead loopback port, never to the CDN: the page must be served from the cache
    env = dict(os.environ, SOLARA_ASSETS_CDN="http://127.0.0.1:9/")
    server = subprocess.Popen([sys.executable, "-m", "aimarket.experiments.cli", "dashboard", "--port", str(port)],
                              env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(url, timeout=5).read()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    pytest.fail(f"the dashboard did not start: {(tmp_path / 'server.log').read_text()[-2000:]}")
                time.sleep(0.5)
        yield url
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)  # the group of the server we started (start_new_session)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
        log.close()


def _readout(page) -> dict[str, float]:
    """The read-out table, read in one go and once it is stable (the same twice, a second apart): a step
    still in flight after Pause would otherwise update the table between the reads of two cells."""
    script = ("() => Object.fromEntries([...document.querySelectorAll('[data-series]')]"
              ".map(c => [c.getAttribute('data-series'), c.innerText.trim()]))")
    previous = None
    for _ in range(60):
        cells = page.evaluate(script)
        if cells == previous:
            break
        previous = cells
        page.wait_for_timeout(1000)
    return {name: math.nan if text == "n/a" else float(text) for name, text in cells.items()}


def _wait_for_step(page, step: int) -> None:
    page.locator("[data-series='step']").filter(has_text=str(step)).wait_for(timeout=60_000)
    page.wait_for_timeout(1500)  # the plots re-render after the read-out


def _plot_sources(page) -> list[str]:
    images = page.locator(".vue-grid-item img")
    page.wait_for_function("() => [...document.querySelectorAll('.vue-grid-item img')].length >= 6 && "
                           "[...document.querySelectorAll('.vue-grid-item img')].every(i => i.naturalWidth > 0)",
                           timeout=60_000)
    return [images.nth(i).get_attribute("src") for i in range(images.count())]


def _assert_matches(page_values: dict, expected_row: dict, tasks: list[str]) -> None:
    for name, column in series_names(tasks).items():
        value = expected_row[column]
        expected = math.nan if value is None else float(value)
        assert page_values[name] == pytest.approx(expected, rel=1e-5, abs=1e-12, nan_ok=True), name


@pytest.mark.browser
def test_dashboard_in_chromium(dashboard_server, tmp_path):
    from playwright.sync_api import sync_playwright

    base = load_scenario()
    tasks = base.task_names
    start = controls.defaults(base)
    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True,
            viewport={"width": 1500, "height": 2600})
        try:
            page = browser.new_page()
            page.on("request", lambda r: requests.append(r.url))
            page.on("websocket", lambda ws: requests.append(ws.url))
            page.goto(dashboard_server, wait_until="load")
            step_button = page.get_by_role("button", name="Step")
            step_button.wait_for(timeout=90_000)
            page.get_by_text(f"Users sampled: {controls.DASHBOARD_USERS:,}").wait_for(timeout=60_000)

            _wait_for_step(page, 0)  # the page opens on step 0, the 2025 market
            step_button.click()
            _wait_for_step(page, 1)
            first_plots = _plot_sources(page)
            default_run = direct_run(controls.overrides(base, start), 2)
            _assert_matches(_readout(page), default_run, tasks)

            # a parameter the first step responds to: under a training-compute threshold the
            # frontier models of 2025 are regulated at once
            page.get_by_label("regulator policy").click(force=True)
            page.get_by_role("option", name="training_threshold").click()
            page.get_by_role("button", name="Reset").click()
            page.wait_for_timeout(1000)
            _wait_for_step(page, 0)
            assert page.locator("[data-input='regulator.policy']").inner_text() == "training_threshold"
            step_button.click()
            _wait_for_step(page, 1)
            regulated_run = direct_run(controls.overrides(base, {**start, "regulator.policy": "training_threshold"}), 2)
            values = _readout(page)
            _assert_matches(values, regulated_run, tasks)
            assert regulated_run["regulated_share"] > default_run["regulated_share"] == 0.0
            assert values["regulated share"] > 0.0
            assert _plot_sources(page) != first_plots  # the plots were redrawn with the new numbers

            # Play runs steps until paused; the page then shows the model after that many steps
            page.get_by_role("button", name="▶").click()
            page.locator("[data-series='step']").filter(has_text="4").wait_for(timeout=60_000)
            page.get_by_role("button", name="❚❚").click()
            page.wait_for_timeout(2000)
            values = _readout(page)
            steps = int(values["step"]) + 1
            assert steps >= 5
            _assert_matches(values, direct_run(controls.overrides(
                base, {**start, "regulator.policy": "training_threshold"}), steps), tasks)

            shot = tmp_path / "dashboard.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000
        finally:
            browser.close()
    outside = sorted({u for u in requests if not _on_loopback(u)})
    assert not outside, f"the page asked for addresses that are not on loopback: {outside}"
    assert any(u.startswith("ws://127.0.0.1") for u in requests)


def test_dashboard_command_rejects_a_bad_port(capsys):
    from aimarket.experiments.cli import main

    assert main(["dashboard", "--port", "http"]) == 2
    assert "--port" in capsys.readouterr().err

