"""Calibration quantities and targets on hand-built run outputs: every value is computed by hand."""

from __future__ import annotations

import math

import pytest

from aimarket.experiments.calibration import (
    DEFAULT_TARGETS,
    QUANTITIES,
    QuantityError,
    TargetsError,
    check,
    evaluate,
    parse_quantity,
    read_targets,
    resolve_targets,
    steps_needed,
    table_lines,
)
from aimarket.experiments.calibration.targets import factor_off, parse_targets
from tests.calibration_helpers import fake_scenario, synthetic_result

LABS = {"Alpha": {"chat": 0.6, "reasoning": 0.5}, "Beta": {"chat": 0.3}, "Gamma": None}


def one(text, scenario):
    (quantity,) = parse_quantity(text, scenario)
    return quantity


@pytest.fixture
def scenario():
    return fake_scenario(LABS)


@pytest.fixture
def result(scenario):
    """Five quarterly steps, 2025.0 to 2026.0: lab revenue, tiers, compute and the lead's new columns."""
    return synthetic_result(
        scenario, 5,
        revenue={"Alpha": [1e9, 2e9, 3e9, 4e9, 5e9], "Beta": [1e8] * 5, "Gamma": [0.0] * 5,
                 "Entrant-1": [0.0, 0.0, 7e9, 7e9, 7e9]},
        shares={("Alpha", "chat"): [0.45, 0.15], ("Alpha", "reasoning"): [0.3, 0.2], ("Beta", "chat"): [0.3]},
        training_flop={"Alpha": [4e26, 4e26, 4e26, 4e26, 1.8e27], "Beta": [5e25] * 5, "Gamma": [1e26] * 5,
                       "Entrant-1": [1e24] * 5},
        open_labs=frozenset({"Beta"}),
        timeseries={"price_chat": [0.002, None, 0.004, 0.003, 99.0],
                    "price_reasoning": [0.5] * 5, "price_agentic": [2.0] * 5,
                    "tier_price_ratio_reasoning": [8.0, 10.0, 12.0, None, 50.0],
                    "lerner": [0.4, 0.6, 0.6, 0.6, 0.9],
                    "price_fixed_capability_reasoning": [1.0, 0.5, 0.2, 0.1, 0.025]},
    )


def test_lab_revenue_takes_one_row_per_step_and_lab_over_the_half_open_year(scenario, result):
    # Alpha has 3 task types x 1-2 tiers of rows per step; 2026.0 (step 4) is not in 2025
    assert one("lab_revenue:Alpha:2025", scenario).value(result) == pytest.approx(1e9 + 2e9 + 3e9 + 4e9, rel=1e-15)
    assert one("lab_revenue:Beta:2025", scenario).value(result) == pytest.approx(4e8, rel=1e-15)


def test_roster_revenue_excludes_entrants_and_revenue_includes_them(scenario, result):
    assert one("roster_revenue:2025", scenario).value(result) == pytest.approx(10e9 + 4e8, rel=1e-15)
    assert one("revenue:2025", scenario).value(result) == pytest.approx(10e9 + 4e8 + 14e9, rel=1e-15)  # entrant: steps 2 and 3


def test_run_rate_annualises_the_first_step_of_the_year(scenario, result):
    assert one("lab_run_rate:Alpha:2025", scenario).value(result) == pytest.approx(4e9, rel=1e-15)
    assert one("lab_run_rate:Alpha:2026", scenario).value(result) == pytest.approx(20e9, rel=1e-15)


def test_share0_sums_a_labs_offers_and_the_roster_gives_the_target(scenario, result):
    quantity = one("share0:Alpha:chat", scenario)
    assert quantity.value(result) == pytest.approx(0.6, rel=1e-15)
    assert quantity.reference(scenario) == 0.6
    assert one("share0:Alpha:reasoning", scenario).value(result) == pytest.approx(0.5, rel=1e-15)
    assert one("share0:Gamma:chat", scenario).reference(scenario) is None


def test_wildcards_expand_and_roster_rows_skip_missing_shares(scenario, result):
    assert [q.text for q in parse_quantity("price:*:2025", scenario)] == [
        "price:chat:2025", "price:reasoning:2025", "price:agentic:2025"]
    rows = parse_targets({"target": [{"what": "share of {lab} on {task}", "quantity": "share0:*:*",
                                      "value": "roster", "tolerance": 1.0001, "source": "roster"}]}, "t.toml")
    targets = resolve_targets(rows, scenario)
    assert [(t.what, t.value) for t in targets] == [
        ("share of Alpha on chat", 0.6), ("share of Alpha on reasoning", 0.5), ("share of Beta on chat", 0.3)]
    assert all(r.within and r.factor == pytest.approx(1.0, abs=1e-12) for r in evaluate(targets, result))


def test_prices_tiers_and_lerner_average_over_the_year(scenario, result):
    assert one("price:chat:2025", scenario).value(result) == pytest.approx(0.003, rel=1e-12)  # null skipped
    assert one("tier_price_ratio:reasoning:2025", scenario).value(result) == pytest.approx(10.0, rel=1e-12)
    weights = [1.1e9, 2.1e9, 10.1e9, 11.1e9]  # timeseries revenue of the 2025 steps
    expected = sum(v * w for v, w in zip([0.4, 0.6, 0.6, 0.6], weights, strict=True)) / sum(weights)
    assert one("lerner:2025", scenario).value(result) == pytest.approx(expected, rel=1e-12)


def test_compute_growth_gap_and_price_fall_are_per_year_ratios(scenario, result):
    assert one("frontier_compute_growth:2025:2026", scenario).value(result) == pytest.approx(4.5, rel=1e-12)
    assert one("open_gap_compute:2025", scenario).value(result) == pytest.approx(4e26 / 5e25, rel=1e-12)
    assert one("fixed_capability_price_fall:reasoning:2025:2026", scenario).value(result) == pytest.approx(40.0)


def test_per_year_ratio_over_two_years_takes_the_root():
    scenario = fake_scenario({"Alpha": None}, step_years=0.5)
    result = synthetic_result(scenario, 5, revenue={"Alpha": [1.0] * 5},
                              training_flop={"Alpha": [1e25, 1e25, 4e25, 4e25, 1.6e26]},
                              timeseries={"price_fixed_capability_chat": [900.0, 1, 1, 1, 1.0]})
    assert one("frontier_compute_growth:2025:2027", scenario).value(result) == pytest.approx(4.0, rel=1e-12)
    assert one("fixed_capability_price_fall:chat:2025:2027", scenario).value(result) == pytest.approx(30.0)


def test_missing_column_is_one_line_naming_it(scenario, result):
    bare = synthetic_result(scenario, 5, revenue={"Alpha": [1.0] * 5})
    for text, column in [("lerner:2025", "lerner"), ("tier_price_ratio:chat:2025", "tier_price_ratio_chat"),
                         ("fixed_capability_price_fall:agentic:2025:2026", "price_fixed_capability_agentic")]:
        with pytest.raises(QuantityError, match=f"timeseries.parquet has no column '{column}'") as info:
            one(text, scenario).value(bare)
        assert "\n" not in str(info.value)


def test_a_year_the_run_does_not_cover_is_an_error(scenario, result):
    short = synthetic_result(scenario, 3, revenue={"Alpha": [1.0] * 3})
    with pytest.raises(QuantityError, match=r"needs every step of 2025, but the run's steps span 2025-2025.5"):
        one("lab_revenue:Alpha:2025", scenario).value(short)
    with pytest.raises(QuantityError, match="needs a step in 2026"):
        one("open_gap_compute:2026", scenario).value(short)


def test_steps_needed_cover_each_quantitys_years(scenario):
    assert one("lab_revenue:Alpha:2025", scenario).steps_needed(scenario) == 4
    assert one("share0:Alpha:chat", scenario).steps_needed(scenario) == 1
    assert one("open_gap_compute:2025", scenario).steps_needed(scenario) == 1
    assert one("frontier_compute_growth:2025:2026", scenario).steps_needed(scenario) == 5
    assert one("lab_revenue:Alpha:2026", scenario).steps_needed(scenario) == 8
    with pytest.raises(QuantityError, match="before the scenario's first step"):
        one("price:chat:2024", scenario).steps_needed(scenario)


@pytest.mark.parametrize("text, fragment", [
    ("lab_revenu:Alpha:2025", "unknown name 'lab_revenu' (allowed: lab_revenue, lab_run_rate,"),
    ("lab_revenue:Alpha", "takes 2 argument(s): lab_revenue:LAB:YEAR"),
    ("lab_revenue:Delta:2025", "unknown roster lab 'Delta' (allowed: Alpha, Beta, Gamma, or *)"),
    ("price:video:2025", "unknown task type 'video' (allowed: chat, reasoning, agentic, or *)"),
    ("price:chat:next", "'next' is not a calendar year"),
])
def test_bad_quantities_are_one_line_errors(scenario, text, fragment):
    with pytest.raises(QuantityError) as info:
        parse_quantity(text, scenario)
    assert fragment in str(info.value) and "\n" not in str(info.value)


def _row(**changes):
    row = {"what": "w", "quantity": "lerner:2025", "value": 0.5, "tolerance": 1.5, "source": "s"}
    row.update(changes)
    return {key: value for key, value in row.items() if value is not None}


@pytest.mark.parametrize("row, fragment", [
    (_row(tolerance=1.0), "tolerance: must be a factor > 1 (got 1)"),
    (_row(value=-3.0), "value: must be > 0"),
    (_row(value="lots"), "value: must be a finite number"),
    (_row(source=None), "source: must be a non-empty string"),
    (_row(units="x"), "unknown field 'units' (allowed: what, quantity, value, tolerance, source, note)"),
])
def test_bad_target_rows_name_the_row_and_field(row, fragment):
    with pytest.raises(TargetsError) as info:
        parse_targets({"target": [row]}, "t.toml")
    assert fragment in str(info.value) and "target 1 ('w')" in str(info.value)


def test_roster_value_only_for_share_quantities(scenario):
    rows = parse_targets({"target": [_row(value="roster")]}, "t.toml")
    with pytest.raises(TargetsError, match="only works for share0"):
        resolve_targets(rows, scenario)


def test_file_errors(tmp_path):
    with pytest.raises(TargetsError, match="does not exist"):
        read_targets(tmp_path / "none.toml")
    (tmp_path / "bad.toml").write_text("[[target]\n")
    with pytest.raises(TargetsError, match="is not valid TOML"):
        read_targets(tmp_path / "bad.toml")
    (tmp_path / "empty.toml").write_text("description = 'x'\n")
    with pytest.raises(TargetsError, match=r"at least one \[\[target\]\]"):
        read_targets(tmp_path / "empty.toml")


def test_factor_off_and_verdicts(scenario, result):
    assert factor_off(2.0, 4.0) == 2.0 and factor_off(8.0, 4.0) == 2.0
    assert factor_off(0.0, 4.0) == math.inf and factor_off(math.nan, 4.0) == math.inf
    rows = parse_targets({"target": [_row(quantity="price:chat:2025", value=0.001, tolerance=3.0),
                                     _row(quantity="price:chat:2025", value=0.001, tolerance=2.9)]}, "t.toml")
    first, second = evaluate(resolve_targets(rows, scenario), result)
    assert first.factor == pytest.approx(3.0) and first.within and not second.within
    lines = table_lines([first, second])
    assert "ok" in lines[1] and "OUTSIDE" in lines[2] and lines[-1] == "1 of 2 rows within tolerance"


def test_check_runs_the_fewest_steps_with_the_scenarios_seed(scenario, result):
    calls = []

    def run_fn(s, seed, steps):
        calls.append((seed, steps))
        return result

    rows = parse_targets({"target": [_row(quantity="frontier_compute_growth:2025:2026", value=4.5, tolerance=2.0)]},
                         "t.toml")
    (row,) = check(scenario, rows, run_fn=run_fn)
    assert calls == [(7, 5)] and row.within
    with pytest.raises(Exception, match="--steps 4: target 'frontier_compute_growth:2025:2026' needs at least 5"):
        check(scenario, rows, run_fn=run_fn, steps=4)


def test_default_targets_file_covers_the_issue_rows():
    rows = read_targets(DEFAULT_TARGETS)
    roster = ["OpenAI", "Anthropic", "Google DeepMind", "xAI", "Meta", "DeepSeek", "Mistral"]
    scenario = fake_scenario({name: {"chat": 0.1, "reasoning": 0.1, "agentic": 0.1} for name in roster})
    targets = resolve_targets(rows, scenario, DEFAULT_TARGETS)
    texts = {t.quantity.text for t in targets}
    required = {"lab_revenue:OpenAI:2025", "lab_revenue:Anthropic:2025", "roster_revenue:2025",
                "price:chat:2025", "price:reasoning:2025", "price:agentic:2025", "tier_price_ratio:reasoning:2025",
                "lerner:2025", "frontier_compute_growth:2025:2026", "open_gap_compute:2025",
                "fixed_capability_price_fall:reasoning:2025:2026", "share0:OpenAI:chat", "share0:Mistral:agentic"}
    assert required <= texts
    assert {t.quantity.spec.name for t in targets} <= set(QUANTITIES)
    assert all(t.source and t.tolerance > 1 for t in targets)
    assert all(t.tolerance == 1.0001 for t in targets if t.quantity.spec.name == "share0")
    assert steps_needed(targets, scenario) == 5
