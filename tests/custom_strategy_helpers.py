"""A run function whose module registers a strategy, as README "Strategies" shows for sweeps: importing
it (in the sweep's process and in every worker) makes ``strategy = "sweep_custom"`` valid."""

from __future__ import annotations

from aimarket.agents.strategies import OptimiseStrategy, register_strategy

register_strategy("sweep_custom", lambda: OptimiseStrategy(training_cost_weight=2.0, name="sweep_custom"))


def simulate(scenario, *, seed=None, steps=None, progress=None):
    from aimarket.simulation.run import simulate as real

    return real(scenario, seed=seed, steps=steps, progress=progress)
