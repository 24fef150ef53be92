"""The default scenario against the 2025 targets, as `aimarket calibrate` checks it (docs/ODD.md §5.5).

Every row but three is within its tolerance. The three the model does not reach (docs/ODD.md §5.5 says
why) are an expected failure with ``strict=True``: the day the model reaches one, the suite fails and the
row moves to the first test.
"""

from __future__ import annotations

import pytest

from aimarket.experiments.calibration import DEFAULT_TARGETS, check, read_targets
from aimarket.simulation.scenario.loading import load_scenario

#: rows the version-2 model does not reach, with the mechanism (docs/ODD.md §5.5)
KNOWN_MISSES = {
    "tier_price_ratio:reasoning:2025": "few users value the dearer tier's extra capability",
    "fixed_capability_price_fall:reasoning:2025:2026": "distilled variants are priced by the full logit markup",
    "lab_run_rate:Anthropic:2025": "step-0 shares are Anthropic's mid-2025 shares, held still",
}


@pytest.fixture(scope="module")
def rows():
    return check(load_scenario(), read_targets(DEFAULT_TARGETS))


def test_the_default_is_within_every_target_it_can_reach(rows):
    outside = {r.target.quantity.text: round(r.factor, 3) for r in rows
               if not r.within and r.target.quantity.text not in KNOWN_MISSES}
    assert not outside, f"rows outside their tolerance: {outside}"
    assert sum(r.within for r in rows) >= len(rows) - len(KNOWN_MISSES)


@pytest.mark.xfail(strict=True, reason="docs/ODD.md §5.5: " + "; ".join(f"{k}: {v}" for k, v in KNOWN_MISSES.items()))
def test_the_default_reaches_the_rows_it_misses(rows):
    missed = {r.target.quantity.text: round(r.factor, 3) for r in rows if r.target.quantity.text in KNOWN_MISSES}
    assert len(missed) == len(KNOWN_MISSES)
    assert all(r.within for r in rows if r.target.quantity.text in KNOWN_MISSES), missed
