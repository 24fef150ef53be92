"""Scenario loading, overrides by name, serialisation, hashing and one-line validation errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from aimarket.simulation.errors import ScenarioError, UserInputError
from aimarket.simulation.scenario.loading import DEFAULT_SCENARIO, load_scenario
from aimarket.simulation.scenario.overrides import apply_overrides, parse_set_option
from aimarket.simulation.scenario.schema import Scenario, scenario_hash, scenario_to_dict
from aimarket.simulation.scenario.validation import scenario_from_dict

ROOT = Path(__file__).resolve().parents[1]
# scenarios/targets_*.toml are calibration targets (aimarket calibrate), not scenarios
SCENARIO_FILES = sorted(p for p in (ROOT / "scenarios").glob("*.toml") if not p.name.startswith("targets_"))


@pytest.fixture(scope="module")
def default() -> Scenario:
    return load_scenario()


def test_default_path_is_repository_file():
    assert DEFAULT_SCENARIO == ROOT / "scenarios" / "default.toml"
    assert DEFAULT_SCENARIO.is_file()


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=[p.name for p in SCENARIO_FILES])
def test_every_scenario_file_loads(path):
    scenario = load_scenario(path)
    assert isinstance(scenario, Scenario)
    assert scenario.labs.roster


def test_default_scenario_calibration(default):
    roster = default.labs.roster
    assert len(roster) >= 6
    assert sum(lab.open_weights for lab in roster) >= 2
    assert all(lab.strategy == "optimise" for lab in roster)
    assert all(set(lab.k) == set(default.task_names) for lab in roster)
    assert load_scenario(None) == default


def test_default_file_sets_every_schema_parameter():
    """default.toml spells out every parameter (optional ones whose default is None excepted: task_mix,
    a roster lab's own opex)."""
    import tomllib

    data = tomllib.loads(DEFAULT_SCENARIO.read_text())
    resolved = scenario_to_dict(load_scenario())
    for section, values in resolved.items():
        assert section in data, section
        if isinstance(values, dict):
            missing = set(values) - set(data[section]) - {"task_mix"}
            assert not missing, (section, missing)
    lab_fields = Scenario.model_fields["labs"].annotation.model_fields["roster"].annotation.__args__[0].model_fields
    required = {name for name, field in lab_fields.items() if field.default is not None}
    for lab in data["labs"]["roster"]:
        assert required <= set(lab), lab["name"]


def test_static_homogeneous_is_the_validation_market():
    s = load_scenario(ROOT / "scenarios" / "static_homogeneous.toml")
    assert len(s.labs.roster) == 3
    assert all(lab.strategy == "static" for lab in s.labs.roster)
    assert s.users.value_sigma == 0 and s.users.switching_cost == 0
    assert s.users.count == 3000 and s.run.steps == 8 and s.entry.arrivals == 0


def test_overrides_by_name(default):
    s = apply_overrides(default, {
        "tasks.reasoning.alpha": 0.5,
        "labs.roster.OpenAI.cash": 2e10,
        "labs.roster.OpenAI.k.chat": 3.0,
        "labs.roster.Google DeepMind.open_weights": True,
        "users.count": 5000,
    })
    assert s.tasks[s.task_names.index("reasoning")].alpha == 0.5
    openai = next(lab for lab in s.labs.roster if lab.name == "OpenAI")
    assert openai.cash == 2e10 and openai.k["chat"] == 3.0
    assert next(lab for lab in s.labs.roster if lab.name == "Google DeepMind").open_weights
    assert s.users.count == 5000
    # the base is unchanged (scenarios are immutable)
    assert default.users.count == 5000


def test_overrides_on_partial_dict_use_schema_defaults():
    data = {"labs": {"roster": [{"name": "A", "training_flop": 1e25, "cash": 1e9}]}}
    s = apply_overrides(data, {"tasks.chat.value": 0.1, "regulator.policy": "training_threshold"})
    assert s.tasks[0].value == 0.1 and s.regulator.policy == "training_threshold"
    assert "tasks" not in data  # the input dict is not modified


def test_load_with_set_strings(default):
    s = load_scenario(None, ["run.steps=12", "labs.k_grid=[1, 10, 100]", "regulator.policy=training_threshold"])
    assert s.run.steps == 12 and s.labs.k_grid == [1.0, 10.0, 100.0]
    assert s.regulator.policy == "training_threshold"


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        ("run.steps=12", ("run.steps", 12)),
        ("compute.flop_per_dollar=1e18", ("compute.flop_per_dollar", 1e18)),
        ("ida.enabled=true", ("ida.enabled", True)),
        ("labs.k_grid=[1, 10]", ("labs.k_grid", [1, 10])),
        ("regulator.policy=none", ("regulator.policy", "none")),
        ('regulator.policy="none"', ("regulator.policy", "none")),
        (" users.count = 7 ", ("users.count", 7)),
        ("labs.roster.A.k={chat = 2.0}", ("labs.roster.A.k", {"chat": 2.0})),
    ],
)
def test_parse_set_option(option, expected):
    assert parse_set_option(option) == expected


@pytest.mark.parametrize("option", ["run.steps", "=3", "run..steps=1", "run.steps=", ""])
def test_parse_set_option_rejects(option):
    with pytest.raises(ScenarioError, match="invalid --set"):
        parse_set_option(option)


def test_round_trip_and_json_safe(default):
    data = scenario_to_dict(default)
    assert json.loads(json.dumps(data, allow_nan=False)) == data
    assert scenario_from_dict(data) == default
    assert scenario_to_dict(scenario_from_dict(data)) == data


def test_hash_is_stable(default):
    h = scenario_hash(default)
    assert len(h) == 64 and int(h, 16) >= 0
    assert scenario_hash(load_scenario()) == h
    assert scenario_hash(scenario_from_dict(json.loads(json.dumps(scenario_to_dict(default))))) == h
    assert scenario_hash(apply_overrides(default, {"users.count": 5000})) == h
    assert scenario_hash(apply_overrides(default, {"users.count": 20001})) != h


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("users.value_sigma", -1.0, "scenario field 'users.value_sigma': must be >= 0 (got -1.0)"),
        ("users.value_sigm", 1.0, "unknown scenario field 'users.value_sigm' (did you mean 'users.value_sigma'?)"),
        ("usrs.count", 1, "unknown scenario field 'usrs' (did you mean 'users'?)"),
        ("run.steps", "abc", "scenario field 'run.steps': must be an integer (got 'abc')"),
        ("labs.k_grid", [2.0, 10.0], "scenario field 'labs.k_grid': must be strictly increasing and start at 1"),
        ("labs.k_grid", [1.0, 10.0, 5.0], "scenario field 'labs.k_grid': must be strictly increasing and start at 1"),
        ("labs.roster", [], "scenario field 'labs.roster': must list at least one lab"),
        ("labs.roster.OpenAI.cash", -5.0, "scenario field 'labs.roster.OpenAI.cash': must be >= 0 (got -5.0)"),
        ("labs.roster.OpenAI.training_flop", 0.0,
         "scenario field 'labs.roster.OpenAI.training_flop': must be > 0 (got 0.0)"),
        ("tasks.chat.human_success", 1.5, "scenario field 'tasks.chat.human_success': must be in [0, 1] (got 1.5)"),
        ("entry.arrivals", -0.1, "scenario field 'entry.arrivals': must be in [0, 1000] (got -0.1)"),
        ("tasks.reasoning.alpha", -0.7, "scenario field 'tasks.reasoning.alpha': must be >= 0 (got -0.7)"),
        ("compute.flop_per_dollar", float("inf"),
         "scenario field 'compute.flop_per_dollar': must be a finite number (got inf)"),
        ("regulator.policy", "sometimes", "scenario field 'regulator.policy': must be one of"),
        ("labs.roster.OpenAi.cash", 1.0,
         "unknown lab 'OpenAi' in scenario field 'labs.roster' (did you mean 'labs.roster.OpenAI'?)"),
        ("tasks.reasonin.alpha", 1.0,
         "unknown task type 'reasonin' in scenario field 'tasks' (did you mean 'tasks.reasoning'?)"),
        ("labs.roster.OpenAI.k.chat", 0.5, "scenario field 'labs.roster.OpenAI.k': k for task 'chat' must be >= 1"),
        ("labs.roster.OpenAI.k.chatt", 2.0, "scenario field 'labs.roster.OpenAI.k': unknown task type 'chatt'"),
        ("run.steps.x", 1, "unknown scenario field 'run.steps.x'"),
        ("ida.enabled", "maybe", "scenario field 'ida.enabled': must be true or false (got 'maybe')"),
    ],
)
def test_errors_name_the_field(default, key, value, message):
    with pytest.raises(ScenarioError) as info:
        apply_overrides(default, {key: value})
    text = str(info.value)
    assert text.startswith(message), text
    assert "\n" not in text
    assert isinstance(info.value, UserInputError)


def test_duplicate_lab_names(default):
    lab = {"name": "A", "training_flop": 1e25, "cash": 1e9}
    with pytest.raises(ScenarioError, match=r"^scenario field 'labs.roster': lab names must be unique \(duplicated: A\)$"):
        apply_overrides(default, {"labs.roster": [lab, dict(lab)]})


def test_missing_required_field_named_by_lab():
    with pytest.raises(ScenarioError, match=r"^scenario field 'labs.roster.A.training_flop': is required$"):
        scenario_from_dict({"labs": {"roster": [{"name": "A", "cash": 1e9}]}})


def test_missing_labs_section():
    with pytest.raises(ScenarioError, match=r"^scenario field 'labs': is required$"):
        scenario_from_dict({})


def test_unknown_key_in_file(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('[users]\nvalue_sigm = 1.0\n[[labs.roster]]\nname = "A"\ntraining_flop = 1e25\ncash = 1e9\n')
    with pytest.raises(ScenarioError, match=r"did you mean 'users.value_sigma'\?"):
        load_scenario(path)


def test_unknown_key_in_roster_item_named_by_lab(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text('[[labs.roster]]\nname = "A"\ntraining_flop = 1e25\ncahs = 1e9\n')
    with pytest.raises(ScenarioError, match=r"^unknown scenario field 'labs.roster.A.cahs' \(did you mean 'labs.roster.A.cash'\?\)$"):
        load_scenario(path)


def test_missing_file(tmp_path):
    with pytest.raises(ScenarioError, match=r"^scenario file '.*nope.toml' does not exist$"):
        load_scenario(tmp_path / "nope.toml")


def test_invalid_toml_names_the_line(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[run]\nsteps = = 3\n")
    with pytest.raises(ScenarioError, match=r"is not valid TOML: .*line 2"):
        load_scenario(path)


def test_extends_merges_a_base_scenario_table_by_table(tmp_path):
    base = tmp_path / "base.toml"
    base.write_text('[users]\ncount = 700\nvalue_sigma = 0.5\n\n[[labs.roster]]\nname = "A"\n'
                    'training_flop = 1e25\ncash = 1e9\n')
    child = tmp_path / "child.toml"
    child.write_text('extends = "base.toml"\n\n[users]\nvalue_sigma = 0.0\n')
    scenario = load_scenario(child)
    assert scenario.users.count == 700 and scenario.users.value_sigma == 0.0
    assert [lab.name for lab in scenario.labs.roster] == ["A"]


def test_extends_cycle_is_a_one_line_error(tmp_path):
    (tmp_path / "a.toml").write_text('extends = "b.toml"\n')
    (tmp_path / "b.toml").write_text('extends = "a.toml"\n')
    with pytest.raises(ScenarioError, match="cycle") as info:
        load_scenario(tmp_path / "a.toml")
    assert "\n" not in str(info.value)
