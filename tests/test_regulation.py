"""The regulator and the measures of Ord's essay (issue 5; docs/ODD.md §7.3, §7.12, §7.13).

Every run here is small (a few hundred users, one to three labs, at most nine steps) and built from
the default scenario with ``load_scenario(None, overrides)``; quantities are recomputed by hand from
the outputs (labs.parquet, the summary) and the laws, not read back from the code under test.
"""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from aimarket.agents.lab import TrainedModel
from aimarket.simulation import laws
from aimarket.simulation.model import MarketModel
from aimarket.simulation.run import simulate
from aimarket.simulation.scenario.loading import load_scenario
from tests.small_scenarios import scenario

ROOT = Path(__file__).resolve().parents[1]
SECONDS_PER_YEAR = 365.25 * 24 * 3600.0
POLICY_FILES = ["policy_training_1e25", "policy_training_1e26", "policy_effective_1e25", "policy_capability"]




def frames(result):
    return result.timeseries.to_pandas(), result.labs.to_pandas()


def per_lab(labs):
    """One row per step x lab (the lab-level columns repeat on every task row)."""
    return labs.drop_duplicates(["step", "lab"]).set_index(["step", "name"])


def algo_eff(s, step: int) -> float:
    return s.compute.algo_growth ** (step * s.time.step_years)


# -- scenarios -------------------------------------------------------------------------------------

BIG_AND_SMALL = [
    dict(name="Big", training_flop=5e25, cash=2e10),
    dict(name="Small", training_flop=3e24, cash=5e9),   # under the 1e25 line; buys capability with k
]


@cache
def threshold_run(policy: str):
    """A lab over the training line and one under it; neither can train past its own size. Every served
    FLOP is paid for (``paid_compute_share = 1``), so inference is cheap enough that the small lab's best
    offers cross the line with inference: the case the regulator's accounting is tested on."""
    s = scenario(BIG_AND_SMALL, regulator__policy=policy, regulator__threshold_flop=1e25,
                 labs__training_multiples=[0.0, 1.0], labs__frontier_multiples=[0.0],
                 compute__paid_compute_share=1.0)
    return s, simulate(s, steps=6)


@cache
def delay_run(delay: int):
    """One rich pretrain_heavy lab starting under 1e25 FLOP that trains 10x each cycle."""
    s = scenario([dict(name="Trainer", training_flop=5e24, cash=1e11, strategy="pretrain_heavy")],
                 regulator__policy="training_threshold", regulator__threshold_flop=1e25,
                 regulator__delay_steps=delay, regulator__compliance_cost=1.234e8,
                 labs__training_multiples=[0.0, 10.0], labs__frontier_multiples=[0.0])
    return s, simulate(s, steps=9)


@cache
def ida_run(count_ida: bool):
    """A 3e24 FLOP lab that retrains at the same raw size with 10x IDA compute (3.3e25 counted)."""
    s = scenario([dict(name="Amplifier", training_flop=3e24, cash=1e11, strategy="pretrain_heavy",
                       trained_year=2024.0)],
                 regulator__policy="training_threshold", regulator__threshold_flop=1e25,
                 regulator__count_ida_compute=count_ida, ida__enabled=True, ida__multiples=[10.0],
                 labs__training_multiples=[0.0, 1.0], labs__frontier_multiples=[0.0])
    return s, simulate(s, steps=4)


@cache
def indexed_run(index: bool):
    """A 5e24 FLOP lab retraining at the same size while algorithms improve 16x a year: C*A(t)
    is 5e24 at step 0 and 8e25 at step 4 (A at release of the step-0 run would give 2e25)."""
    s = scenario([dict(name="Follower", training_flop=5e24, cash=1e11, strategy="pretrain_heavy",
                       trained_year=2024.0)],
                 regulator__policy="training_threshold", regulator__threshold_flop=1e25,
                 regulator__index_to_algorithmic_progress=index, compute__algo_growth=16.0,
                 labs__training_multiples=[0.0, 1.0], labs__frontier_multiples=[0.0])
    return s, simulate(s, steps=8)


@cache
def training_power_run():
    """Two labs of different sizes that train in both cycles; no regulation, so no delays."""
    s = scenario([dict(name="Large", training_flop=2e25, cash=1e12, strategy="pretrain_heavy"),
                  dict(name="Little", training_flop=3e24, cash=1e12, strategy="pretrain_heavy")],
                 labs__training_multiples=[0.0, 10.0, 30.0], labs__frontier_multiples=[0.0])
    return s, simulate(s, steps=7)


# -- evasion and the regulated share ------------------------------------------------------------------

def hand_regulation_measures(labs, line: float):
    """(regulated_share, evading_labs) per step recomputed from labs.parquet (no open weights)."""
    out = {}
    for step, rows in labs.groupby("step"):
        frontier = rows[(rows.eoom >= line) & (rows.quantity > 0)]
        total = frontier.quantity.sum()
        share = frontier.quantity[frontier.regulated].sum() / total if total > 0 else None
        out[step] = (share, frontier[~frontier.regulated].lab.nunique())
    return out


def test_training_threshold_is_evaded_by_inference():
    s, result = threshold_run("training_threshold")
    ts, labs = frames(result)
    line = math.log10(1e25)
    small = labs[labs.name == "Small"]
    assert (small.training_flop < 1e25).all() and not small.regulated.any()
    assert (small.eoom >= line).any(), "the small lab should buy its way over the line with inference"
    assert labs[labs.name == "Big"].regulated.all()
    assert (ts.evading_labs > 0).all()
    hand = hand_regulation_measures(labs, line)
    for _, row in ts.iterrows():
        share, evading = hand[row.step]
        assert row.evading_labs == evading
        assert row.regulated_share == pytest.approx(share, rel=1e-12)
        assert 0.0 < row.regulated_share < 1.0
    assert result.summary["first_evasion_step"] == 0
    assert result.summary["first_evasion_year"] == s.time.start_year
    assert result.summary["peak_regulated_share"] == pytest.approx(ts.regulated_share.max(), rel=1e-15)


def test_effective_threshold_leaves_no_evasion():
    _, result = threshold_run("effective_threshold")
    ts, labs = frames(result)
    line = math.log10(1e25)
    # not vacuous: the same small lab serves over the line, but is now regulated
    assert ((labs.name == "Small") & (labs.eoom >= line) & (labs.quantity > 0)).any()
    assert labs.regulated.all()
    assert (ts.evading_labs == 0).all()
    assert (ts.regulated_share == 1.0).all()
    assert result.summary["first_evasion_step"] is None
    assert result.summary["first_evasion_year"] is None
    assert result.summary["peak_regulated_share"] == 1.0


@pytest.mark.parametrize("name", POLICY_FILES)
def test_policy_scenarios_regulated_share_in_unit_interval(name):
    s = load_scenario(ROOT / "scenarios" / f"{name}.toml", {"users.count": 600, "labs.k_search_rounds": 2})
    assert s.regulator.policy != "none"
    result = simulate(s, steps=3)
    ts = result.timeseries.to_pandas()
    shares = [x for x in result.timeseries.column("regulated_share").to_pylist() if x is not None]
    assert all(0.0 <= x <= 1.0 for x in shares)
    assert (ts.evading_labs >= 0).all()
    peak = result.summary["peak_regulated_share"]
    assert peak == (max(shares) if shares else None)
    evading = ts.index[ts.evading_labs > 0]
    assert result.summary["first_evasion_step"] == (int(ts.step[evading[0]]) if len(evading) else None)


def test_regulated_share_is_null_without_frontier_usage():
    s = scenario(BIG_AND_SMALL, regulator__policy="training_threshold", regulator__threshold_flop=1e40)
    result = simulate(s, steps=2)
    assert result.timeseries.column("regulated_share").to_pylist() == [None, None]
    assert result.timeseries.column("evading_labs").to_pylist() == [0, 0]
    assert result.summary["peak_regulated_share"] is None
    assert result.summary["first_evasion_step"] is None


# -- judgement: delay and compliance ------------------------------------------------------------------

@pytest.mark.parametrize("delay", [0, 2])
def test_regulated_model_released_after_delay_and_pays_once(delay):
    s, result = delay_run(delay)
    lab = per_lab(result.labs.to_pandas()).xs("Trainer", level="name")
    power = result.timeseries.to_pandas().set_index("step").max_site_power_mw
    models = {m["name"]: m for m in result.summary["models"]}
    trained = [m for name, m in models.items() if name != "Trainer-0" and m["release_step"] is not None]
    assert not models["Trainer-0"]["regulated"]
    assert len(trained) >= 2 and all(m["regulated"] for m in trained)
    cost = s.regulator.compliance_cost
    judged = list(lab.index[lab.lab_compliance > 0])
    assert np.allclose(lab.lab_compliance[lab.lab_compliance > 0], cost, rtol=1e-15)
    assert lab.lab_compliance.sum() == pytest.approx(cost * len(judged), rel=1e-15)
    for m in trained:
        release = m["release_step"]
        judgement = release - delay
        assert judgement in judged, "compliance is paid once, when the finished run is judged"
        # the run's last instalment was paid the step before the judgement, none during the delay
        assert lab.lab_training_spend[judgement - 1] > 0
        assert (lab.lab_training_spend[judgement:release] == 0).all()
        assert lab.model_name[release] == m["name"] and lab.model_name[release - 1] != m["name"]
        assert lab.regulated[release]
        # the finished run draws no site power while it waits for release (the lab is alone)
        assert power[judgement - 1] > 0 and (power[judgement:release] == 0).all()
    # one compliance payment per regulated model, at its judgement, and no other
    assert judged == sorted(m["release_step"] - delay for m in trained)


def test_roster_model_over_the_line_pays_compliance_at_step_zero_without_delay():
    s, result = threshold_run("training_threshold")
    lab = per_lab(result.labs.to_pandas())
    assert lab.loc[(0, "Big"), "lab_compliance"] == s.regulator.compliance_cost
    assert lab.loc[(0, "Small"), "lab_compliance"] == 0.0
    assert (lab.xs("Big", level="name").lab_compliance.iloc[1:] == 0).all()
    assert lab.loc[(0, "Big"), "model_name"] == "Big-0"


# -- IDA and indexing -----------------------------------------------------------------------------------

def test_count_ida_compute_decides_regulation_of_an_ida_model():
    judged = {}
    for count in (True, False):
        _, result = ida_run(count)
        model = {m["name"]: m for m in result.summary["models"]}["Amplifier-1"]
        assert model["raw_flop"] == 3e24 and model["ida_flop"] == 3e25
        assert model["release_step"] is not None
        judged[count] = model["regulated"]
    assert judged == {True: True, False: False}


def test_would_regulate_counts_ida_and_indexes_to_algorithms():
    def regulator(**settings):
        overrides = {f"regulator__{k}": v for k, v in settings.items()}
        s = scenario([dict(name="X", training_flop=1e24, cash=1e9)], users__count=30,
                     regulator__policy="training_threshold", regulator__threshold_flop=1e25, **overrides)
        return MarketModel(s).regulator

    def model(raw, ida=0.0):
        return TrainedModel("m", "X", raw, ida, 25.0, 1.0, 0, False)

    plain, no_ida = regulator(), regulator(count_ida_compute=False)
    indexed = regulator(index_to_algorithmic_progress=True)
    assert plain.would_regulate(model(1e25), 1.0) and not plain.would_regulate(model(9.9e24), 1.0)
    assert plain.would_regulate(model(3e24, ida=7e24), 1.0)
    assert not no_ida.would_regulate(model(3e24, ida=7e24), 1.0)
    # indexed: the test is on C * A(t_trained), so the raw-FLOP line falls as algorithms improve
    assert not plain.would_regulate(model(5e24), 3.0) and indexed.would_regulate(model(5e24), 3.0)
    assert plain.would_regulate(model(2e25), 0.4) and not indexed.would_regulate(model(2e25), 0.4)


def test_indexing_changes_the_judgement_on_effective_training_compute():
    outcome = {}
    for index in (True, False):
        s, result = indexed_run(index)
        models = [m for m in result.summary["models"] if m["name"] != "Follower-0"]
        assert [m["raw_flop"] for m in models] == [5e24, 5e24]
        assert all(m["release_step"] is not None for m in models)
        for m in models:
            started = m["release_step"] - s.labs.training_steps - (s.regulator.delay_steps if m["regulated"] else 0)
            assert started % s.labs.model_cycle == 0
            counted = m["raw_flop"] * (algo_eff(s, started) if index else 1.0)
            assert m["regulated"] == (counted >= s.regulator.threshold_flop), (index, m["name"], started)
        outcome[index] = [m["regulated"] for m in models]
    # A(t_trained) = 1 for the step-0 run and 16 for the step-4 run: only the second is caught
    assert outcome == {True: [False, True], False: [False, False]}


# -- copies, site power ---------------------------------------------------------------------------------

def test_hundred_times_inference_gives_a_hundredth_of_the_copies():
    for raw in (1e24, 5e25, 3e27):
        active = laws.active_parameters(raw, 0.25)
        base = laws.served_copies(1e18, active, 3.0, 50.0)
        assert laws.served_copies(1e18, active, 300.0, 50.0) == pytest.approx(base / 100.0, rel=1e-12)
        # by hand: fleet FLOP/s over 2 N_active k tokens/s
        assert base == pytest.approx(1e18 / (2.0 * 0.25 * math.sqrt(raw / 120.0) * 3.0 * 50.0), rel=1e-12)


def test_frontier_copies_follow_the_frontier_labs_fleet_and_k():
    s, result = threshold_run("training_threshold")
    ts, labs = frames(result)
    c = s.compute
    seconds = s.labs.training_steps * s.time.step_years * SECONDS_PER_YEAR
    tokens = {t.name: t.tokens for t in s.tasks}
    for _, row in ts.iterrows():
        rows = labs[(labs.step == row.step) & labs.alive]
        lead = rows.loc[rows.eoom_pre.idxmax()]
        mine = rows[rows.lab == lead.lab]
        work = mine.quantity * mine.task.map(tokens)  # the fleet's compute splits by tokens served
        k_bar = float(np.sum(mine.k * work) / np.sum(work))
        raw = lead.training_flop
        # the training cluster's FLOP/s, delivered at inference utilisation and precision
        fleet = raw / seconds * c.inference_utilisation / c.training_utilisation * c.precision_factor
        active = 0.25 * math.sqrt(raw / 120.0)  # the roster's default active fraction (L7b)
        expected = fleet / (2.0 * active * k_bar * c.copy_tokens_per_second)
        assert row.frontier_copies == pytest.approx(expected, rel=1e-12)
    assert ts.frontier_copies.nunique() > 1  # k moves, and the copies with it


def test_site_power_formula():
    # 1e26 FLOP over half a year at 4e11 FLOP/J: 1e26 / (0.5 * 31,557,600 s * 4e11) W = 15.84 MW
    assert laws.site_power_mw(1e26, 0.5, 4e11) == pytest.approx(1e26 / (0.5 * SECONDS_PER_YEAR * 4e11) / 1e6,
                                                                rel=1e-12)
    assert laws.site_power_mw(1e26, 0.5, 4e11) == pytest.approx(15.8440, rel=1e-4)
    assert laws.site_power_mw(3e26, 0.5, 4e11) == pytest.approx(3 * laws.site_power_mw(1e26, 0.5, 4e11))


def test_max_site_power_is_the_largest_run_in_progress():
    s, result = training_power_run()
    ts = result.timeseries.to_pandas()
    T = s.labs.training_steps
    runs = [m for m in result.summary["models"] if not m["name"].endswith("-0")]
    assert all(m["release_step"] is not None for m in runs)
    assert len({m["raw_flop"] for m in runs}) >= 2
    def fpj(step):  # training FLOP per joule at a step
        return s.compute.flop_per_joule * s.compute.energy_growth ** (step * s.time.step_years)

    for _, row in ts.iterrows():
        step = int(row.step)
        # runs in progress, each drawing its FLOP over its duration at the efficiency of its start
        in_progress = [(m["raw_flop"], m["release_step"] - T) for m in runs
                       if m["release_step"] - T <= step < m["release_step"]]
        expected = max((c / (T * s.time.step_years * SECONDS_PER_YEAR * fpj(start)) / 1e6
                        for c, start in in_progress), default=0.0)
        assert row.max_site_power_mw == pytest.approx(expected, rel=1e-12, abs=0.0)
    assert (ts.max_site_power_mw > 0).any() and (ts.max_site_power_mw == 0).any()


def test_inference_energy_is_served_flop_over_inference_flop_per_joule():
    s, result = threshold_run("training_threshold")  # no open weights: every task is served by a lab
    ts, labs = frames(result)
    tokens = {t.name: t.tokens for t in s.tasks}
    for _, row in ts.iterrows():
        rows = labs[labs.step == row.step]
        variant = {"full": 1.0, "distilled": s.labs.distill_ratio}
        flop = sum(r.quantity * 2.0 * 0.25 * math.sqrt(r.training_flop / 120.0) * variant[r.variant] * tokens[r.task]
                   * r.k for r in rows.itertuples())
        c = s.compute
        fpj = c.flop_per_joule * c.energy_growth ** (row.step * s.time.step_years)
        inference_fpj = fpj * c.inference_utilisation / c.training_utilisation * c.precision_factor
        assert row.inference_energy_mwh == pytest.approx(flop / inference_fpj / 3.6e9, rel=1e-12)
        assert row.inference_energy_mwh > 0
