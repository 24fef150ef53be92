"""A results store never mixes runs of different code without saying so, and never counts a damaged
run folder as done: code identity on resume, verified run folders, ``sweep --check``, corrupt manifests."""

from __future__ import annotations

import hashlib
import json
import shutil
import time

import pytest
from sweep_helpers import REPO, folder_bytes, one_line_error, run_files, write_experiment

from aimarket import experiments
from aimarket.experiments.cli import main
from aimarket.experiments.sweeps import code_identity
from aimarket.experiments.sweeps.run_folders import FILES, SUCCESS, run_code, verify_run
from aimarket.experiments.sweeps.store import completed_runs
from aimarket.simulation.errors import ExperimentError, StoreError

TINY = """root_seed = 3
replications = 2
steps = 2
outputs = ["timeseries", "summary"]
[factors]
"users.switching_cost" = [0.0, 0.1]
"""


def _sweep(exp, out, *extra) -> int:
    return main(["sweep", str(exp), "--out", str(out), "--workers", "0", "--quiet", *extra])


@pytest.fixture
def store(tmp_path):
    exp = write_experiment(tmp_path, TINY)
    out = tmp_path / "out"
    assert _sweep(exp, out) == 0
    return exp, out


def test_run_folder_lists_its_files_and_success_holds_the_hash(store):
    _, out = store
    folder = out / "runs" / "run_id=00000"
    listing = (folder / FILES).read_bytes()
    assert (folder / SUCCESS).read_text().strip() == hashlib.sha256(listing).hexdigest()
    record = json.loads(listing)
    assert set(record["files"]) == {"summary.json", "timeseries.parquet"}
    for name, entry in record["files"].items():
        data = (folder / name).read_bytes()
        assert entry == {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    assert record["code"] == code_identity.code_identity()
    assert verify_run(folder, hashes=True) is None


def test_tampered_run_folders_are_found_and_remade_on_resume(store, tmp_path, capsys):
    exp, out = store
    reference = run_files(out)
    runs = out / "runs"
    (runs / "run_id=00001" / "summary.json").write_bytes(b'{"final_h')  # truncated (interrupted rsync)
    (runs / "run_id=00002" / "timeseries.parquet").unlink()  # missing
    summary3 = runs / "run_id=00003" / "summary.json"  # same size, other bytes: only --verify sees it
    summary3.write_bytes(summary3.read_bytes().replace(b"0", b"1", 1))
    (out / ".manifest.json.abc123.tmp").write_text("{")  # partial files of every kind
    (runs / ".run_id=00000.tmp-424242").mkdir()
    (runs / ".run_id=00000.tmp-424242" / "summary.json").write_text("{")
    capsys.readouterr()

    with pytest.raises(StoreError, match=r"run_id=00001 \(summary.json is 9 bytes"):
        experiments.load(out)
    before = folder_bytes(out)
    assert main(["sweep", "--check", str(out)]) == 1
    report = capsys.readouterr().out
    assert "2/4 runs done and verified" in report and "2 damaged" in report
    assert "run_id=00002 (timeseries.parquet is missing)" in report
    assert "2 partial temporary file(s)" in report and ".manifest.json.abc123.tmp" in report
    assert main(["sweep", "--check", str(out), "--verify"]) == 1
    assert "run_id=00003 (summary.json does not match its SHA-256)" in capsys.readouterr().out
    assert folder_bytes(out) == before  # --check writes nothing

    assert _sweep(exp, out, "--resume", "--verify") == 0
    err = capsys.readouterr().err
    assert "3 finished run(s) failed verification and will be run again" in err
    assert "3 remade after failing verification" in err
    assert run_files(out) == reference
    assert not (out / ".manifest.json.abc123.tmp").exists() and not (runs / ".run_id=00000.tmp-424242").exists()
    assert main(["sweep", "--check", str(out), "--verify"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["sessions"][-1]["runs_failed_verification"] == 3


SOBOL = """root_seed = 3
steps = 2
outputs = ["summary"]
[sampler]
method = "sobol"
n = 2
[factors]
"users.value_sigma" = { low = 0.1, high = 0.4 }
"users.switching_cost" = { low = 0.0, high = 0.2 }
"""


def test_sensitivity_of_a_damaged_store_is_one_line(tmp_path, capsys):
    exp = write_experiment(tmp_path, SOBOL)
    out = tmp_path / "out"
    assert _sweep(exp, out) == 0
    summary = out / "runs" / "run_id=00002" / "summary.json"
    good = summary.read_bytes()
    summary.write_bytes(b" " * len(good))  # same size, not JSON: found when read
    capsys.readouterr()
    assert main(["sensitivity", str(out), "--output", "final_hhi", "--no-plot"]) == 2
    one_line_error(capsys.readouterr().err, "summary.json: damaged (not a JSON summary)")
    summary.write_bytes(good[: len(good) // 2])  # truncated: found by the size check
    assert main(["sensitivity", str(out), "--output", "final_hhi", "--no-plot"]) == 2
    one_line_error(capsys.readouterr().err, "1 finished run folder(s) are damaged: run_id=00002 (summary.json is")


def test_success_without_matching_file_list_is_not_done(store, capsys):
    exp, out = store
    (out / "runs" / "run_id=00000" / SUCCESS).write_text("")  # a _SUCCESS of the old, empty kind
    (out / "runs" / "run_id=00001" / FILES).unlink()
    assert _sweep(exp, out, "--resume") == 0
    assert "2 finished run(s) failed verification" in capsys.readouterr().err
    assert all(verify_run(out / "runs" / f"run_id={r:05d}", hashes=True) is None for r in range(4))


def test_resume_after_code_change_is_refused_then_allowed_and_recorded(store, monkeypatch, capsys):
    exp, out = store
    (out / "runs" / "run_id=00003").rename(out / "runs" / ".gone")  # one run left to do
    shutil.rmtree(out / "runs" / ".gone")
    real = code_identity.code_identity()
    changed = real | {"commit": "f" * 40, "dirty": not real["dirty"], "source_sha256": "0" * 64}
    monkeypatch.setattr(code_identity, "code_identity", lambda run_fn=None: changed | {"run_fn": real["run_fn"]})
    before = folder_bytes(out)
    capsys.readouterr()

    assert _sweep(exp, out, "--resume") == 2
    line = one_line_error(capsys.readouterr().err, "its runs were made by different code")
    assert f"commit {(real['commit'] or 'none')[:12]} -> ffffffffffff" in line
    assert "dirty" in line and "source_sha256" in line and "--allow-code-change" in line
    assert folder_bytes(out) == before  # refused before anything was written

    assert _sweep(exp, out, "--resume", "--allow-code-change") == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["code_changed"] is True
    assert [s["code"]["commit"] for s in manifest["sessions"]] == [real["commit"], "f" * 40]
    assert manifest["code"] == real  # the code that created the store
    assert run_code(out, 0) == real and run_code(out, 3)["commit"] == "f" * 40
    assert main(["sweep", "--check", str(out)]) == 0
    assert "the sessions ran different code" in capsys.readouterr().out
    # the next resume compares with the latest session: the same (changed) code is accepted
    assert _sweep(exp, out, "--resume") == 0


def test_resume_with_other_run_fn_is_refused_through_the_python_api(store):
    exp, out = store
    shutil.rmtree(out / "runs" / "run_id=00000")
    with pytest.raises(ExperimentError, match="run_fn aimarket.simulation.run:simulate -> sweep_helpers:simulate"):
        experiments.sweep(exp, out, workers=0, resume=True, progress=False, run_fn="sweep_helpers:simulate")
    assert 0 not in completed_runs(out)


def test_source_hash_sees_an_edit_of_the_model_code(tmp_path):
    for package in code_identity.MODEL_PACKAGES:
        shutil.copytree(REPO / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    before = code_identity.source_hash(tmp_path)
    assert before == code_identity.source_hash(REPO)
    kernels = tmp_path / "simulation" / "laws.py"
    kernels.write_text(kernels.read_text() + "\n# an edit\n")
    assert code_identity.source_hash(tmp_path) != before
    assert code_identity.git_state(tmp_path) == {"commit": None, "dirty": None}  # no git: the hash decides


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"[1, 2]", "corrupt manifest (a JSON list, not an object)"),
        (b"\x89PNG\r\n\x1a\n\x00\xff", "corrupt manifest (not UTF-8 text)"),
        (b'{"identity": {}, "n_runs": 4', "corrupt manifest (not valid JSON"),
        (b'{"identity": {}, "n_runs": "4", "sessions": [], "failed_runs": []}', "'n_runs' is missing or not a int"),
    ],
    ids=["not-an-object", "binary", "truncated", "wrong-field-type"],
)
def test_corrupt_manifest_is_one_line(store, capsys, content, fragment):
    exp, out = store
    (out / "manifest.json").write_bytes(content)
    before = folder_bytes(out)
    capsys.readouterr()
    for argv in (
        ["sweep", str(exp), "--out", str(out), "--workers", "0", "--resume"],
        ["sweep", "--check", str(out)],
        ["sensitivity", str(out), "--output", "final_hhi"],
    ):
        assert main(argv) == 2
        one_line_error(capsys.readouterr().err, fragment)
    assert folder_bytes(out) == before


def test_design_over_the_limit_is_refused_at_once(tmp_path, capsys):
    levels = ", ".join(str(i / 10) for i in range(1, 11))
    factors = "\n".join(
        f'"{key}" = [{levels}]'
        for key in ("users.switching_cost", "users.value_sigma", "users.logit_scale", "users.selfhost_premium",
                    "entry.arrivals", "entry.cash", "entry.cost")
    )
    exp = write_experiment(tmp_path, f"root_seed = 1\nreplications = 5\n[factors]\n{factors}\n")
    start = time.perf_counter()
    assert main(["sweep", str(exp), "--out", str(tmp_path / "out")]) == 2
    assert time.perf_counter() - start < 1.0
    one_line_error(capsys.readouterr().err, "the design has 50,000,000 runs (10,000,000 design points x 5 replications")
    assert not (tmp_path / "out").exists()
