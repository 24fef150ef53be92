"""Small scenarios for the lab and regulation tests: the default scenario with a given roster and the
settings those tests rely on pinned, so that recalibrating scenarios/default.toml does not change them."""

from __future__ import annotations

from aimarket.simulation.scenario.loading import load_scenario

PINNED = {"users.count": 600, "labs.k_search_rounds": 2, "labs.opex": 5e7, "labs.financing_multiple": 1.0,
          "labs.exit_after": 4, "labs.model_cycle": 4, "labs.training_steps": 2, "entry.arrivals": 0.0,
          "open.lag": 0, "ida.enabled": False, "regulator.policy": "none", "regulator.delay_steps": 1,
          "regulator.compliance_cost": 1e7, "users.selfhost_premium": 0.5}


def scenario(roster: list[dict], **overrides):
    """The default scenario with ``roster``, the pinned settings and dotted ``overrides`` (``__`` for ``.``)."""
    data = {"labs.roster": roster, **PINNED}
    data.update({key.replace("__", "."): value for key, value in overrides.items()})
    return load_scenario(None, data)
