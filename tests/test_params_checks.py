"""Parameter files and parameter combinations, refused before anything runs.

- Parameter files (``python -m trialkit run -f FILE``): duplicate keys, YAML anchors and
  aliases (an alias bomb), binary and undecodable files are refused with a short message
  naming the file, fast.
- Combinations that cannot work (``params.COMBINATIONS``): notebook 10's priors over the
  whole grid of in-range settings (every accepted one works in the functions the notebook
  calls, every refused one would have failed there), notebook 07's delta grid.
- Run time: estimated from the parameters; above ten minutes refused unless allowed.
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import pandas as pd
import pytest

from trialkit import __main__ as cli
from trialkit import params, stats

ROOT = Path(__file__).resolve().parent.parent


# ----------------------------------------------------------------------- parameter files
def _refused(tmp_path: Path, content: bytes | str, capsys: pytest.CaptureFixture) -> str:
    path = tmp_path / "p.yaml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    t0 = time.perf_counter()
    with pytest.raises(ValueError) as err:
        cli._read_yaml(path)
    assert time.perf_counter() - t0 < 2
    message = str(err.value)
    assert str(path) in message  # the file is named
    assert len(message) < 400 + len(str(path))  # short
    # and through the command line: exit 2, nothing executed
    assert cli.main(["run", "--only", "05", "-f", str(path), "--out", str(tmp_path / "r")]) == 2
    err_text = capsys.readouterr().err
    assert str(path) in err_text and "nothing was executed" in err_text
    assert not (tmp_path / "r").exists()
    return message


def test_duplicate_key_is_refused(tmp_path, capsys):
    message = _refused(tmp_path, "alpha: 0.01\nhba1c_cutoff: 7.5\nalpha: 0.02\n", capsys)
    assert "key 'alpha' appears twice (lines 1 and 3)" in message


def test_duplicate_key_in_a_nested_mapping_is_refused(tmp_path, capsys):
    message = _refused(tmp_path, "alpha: {a: 1, a: 2}\n", capsys)
    assert "key 'a' appears twice" in message


def test_alias_bomb_is_refused_fast_and_short(tmp_path, capsys):
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    bomb = "\n".join(lines) + "\n"
    assert len(bomb.encode()) <= 400
    message = _refused(tmp_path, bomb, capsys)
    assert "anchors and aliases" in message


def test_a_single_anchor_is_refused_too(tmp_path, capsys):
    message = _refused(tmp_path, "alpha: &x 0.01\n", capsys)
    assert "anchors and aliases" in message and "line 1" in message


def test_binary_file_is_refused_naming_the_file(tmp_path, capsys):
    message = _refused(tmp_path, bytes(range(256)) * 4, capsys)
    assert "not a text file" in message


def test_latin1_file_is_refused_naming_the_file(tmp_path, capsys):
    message = _refused(tmp_path, "note: caf\xe9\n".encode("latin-1"), capsys)
    assert "not a text file" in message and "not UTF-8" in message


def test_invalid_yaml_message_is_short(tmp_path, capsys):
    message = _refused(tmp_path, "alpha: [" + "1, " * 5000 + "\n", capsys)
    assert "not valid YAML" in message


def test_huge_file_is_refused(tmp_path, capsys):
    message = _refused(tmp_path, "x: " + "a" * 1_100_000 + "\n", capsys)
    assert "too large" in message


def test_long_values_are_cut_in_messages():
    with pytest.raises(params.ParameterError) as err:
        params.validate("05_primary_endpoint", {"alpha": "x" * 100_000})
    assert len(str(err.value)) < 400


def test_a_good_file_still_reads(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("alpha: 0.01\nhba1c_cutoff: 7.5\n")
    assert cli._read_yaml(path) == {"alpha": 0.01, "hba1c_cutoff": 7.5}


# ------------------------------------------------------------- notebook 10: the priors
RELEVANT = (0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.49)
RATES = (0.01, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5)
TAILS = (0.001, 0.01, 0.05, 0.1, 0.2, 0.3)


def _works(rate: float, relevant: float, tail: float) -> bool:
    """What notebook 10 does with the settings (cell 9): build both priors."""
    try:
        stats.sceptical_prior(rate, relevant, tail)
        stats.enthusiastic_prior(rate, relevant, tail)
    except ValueError:
        return False
    return True


def test_prior_settings_over_the_whole_grid():
    """7 x 7 x 6 = 294 in-range settings: accepted exactly when the priors exist."""
    accepted = refused = 0
    for relevant, rate, tail in itertools.product(RELEVANT, RATES, TAILS):
        values = {"clinically_relevant": relevant, "prior_rate": rate, "prior_tail": tail}
        try:
            params.validate("10_bayesian_reanalysis", values)
            ok = True
        except params.ParameterError as e:
            ok = False
            text = str(e)
            assert "clinically_relevant" in text and "prior_tail" in text and "choose" in text
        assert ok == _works(rate, relevant, tail), values
        accepted += ok
        refused += not ok
    assert accepted + refused == 294
    assert refused == 131  # the count the review found crashing in cell 9


def test_a_refusal_suggests_only_values_the_parameters_accept():
    """prior_tail must be above 0: a bound that rounds to 0 is no suggestion (it said
    "choose prior_tail <= 0" when the weakest prior's tail is 4e-23)."""
    import re

    extra = [(0.4, 0.01, 0.3), (0.49, 0.01, 0.3)]
    for relevant, rate, tail in [*itertools.product(RELEVANT, RATES, TAILS), *extra]:
        values = {"clinically_relevant": relevant, "prior_rate": rate, "prior_tail": tail}
        try:
            params.validate("10_bayesian_reanalysis", values)
        except params.ParameterError as e:
            for name, bound in re.findall(
                r"(prior_tail|clinically_relevant) <= ([0-9.e-]+)", str(e)
            ):
                assert float(bound) > 0, (name, values, str(e))


def test_the_suggestion_of_a_refusal_works():
    values = {"clinically_relevant": 0.05, "prior_rate": 0.01, "prior_tail": 0.2}
    with pytest.raises(params.ParameterError) as err:
        params.validate("10_bayesian_reanalysis", values)
    text = str(err.value)
    assert "choose prior_tail <= 0.003" in text
    assert _works(0.01, 0.05, 0.003)


# ---------------------------------------------------------------- notebook 07: deltas
def test_delta_step_above_delta_max_is_refused():
    with pytest.raises(params.ParameterError) as err:
        params.validate("07_missing_data_and_estimands", {"delta_step": 3.0, "delta_max": 2.0})
    text = str(err.value)
    assert "delta_step = 3.0, delta_max = 2.0 do not work together" in text
    assert "choose delta_step <= 2" in text
    params.validate("07_missing_data_and_estimands", {"delta_step": 2.0, "delta_max": 2.0})


# ------------------------------------------------------ notebook 05: rates that differ
def test_cut_offs_that_give_both_arms_the_same_rate_are_refused():
    """On the reconstructed patients no one has HbA1c below 5% at week 48: 0/45 vs 0/44, for
    which the risk ratio, odds ratio, NNT and sample sizes of notebook 05 are undefined (it
    failed in the middle, at the sample size). Counts recomputed from the CSVs with pandas."""
    lb = pd.read_csv(ROOT / "data" / "synthetic" / "ADLB.csv")
    w48 = lb[(lb["PARAMCD"] == "HBA1C") & (lb["AVISIT"] == "Week 48")]["AVAL"]
    assert w48.min() >= 5.0 and (w48 < 5.5).sum() == 1  # one patient below 5.5
    with pytest.raises(params.ParameterError) as err:
        params.validate("05_primary_endpoint", {"hba1c_cutoff": 5.0})
    text = str(err.value)
    assert "hba1c_cutoff = 5.0, insulin_reduction = 50.0 do not work together" in text
    assert "the same responder rate (0/45 vs 0/44)" in text
    params.validate("05_primary_endpoint", {"hba1c_cutoff": 5.5})  # 1/45 vs 0/44 differ


# -------------------------------------------------------------------------- run time
def test_estimates_of_the_defaults_are_minutes_not_hours():
    for notebook in params.SPECS:
        assert 1 < params.estimate_seconds(notebook, {}) < 120, notebook


def test_an_hours_long_run_is_refused_unless_allowed(monkeypatch):
    monkeypatch.delenv(params.ALLOW_LONG_ENV, raising=False)
    slow = {"sim_trials": 100_000, "sim_mmrm": True, "sim_imputations": 1000}
    seconds = params.estimate_seconds("07_missing_data_and_estimands", slow)
    assert seconds > 3600  # hours (the review measured 33 h before 07 was vectorized)
    with pytest.raises(params.ParameterError) as err:
        params.validate("07_missing_data_and_estimands", slow)
    text = str(err.value)
    assert "would run for about" in text and " h " in text and "--allow-long" in text
    params.validate("07_missing_data_and_estimands", slow, allow_long=True)
    monkeypatch.setenv(params.ALLOW_LONG_ENV, "1")  # as the runner sets it for its kernels
    params.validate("07_missing_data_and_estimands", slow)


@pytest.mark.parametrize(
    "notebook, values",
    [
        ("07_missing_data_and_estimands", {"sim_trials": 100_000, "sim_imputations": 1000}),
        ("07_missing_data_and_estimands", {"n_imputations": 10_000, "delta_step": 0.01,
                                           "delta_max": 20.0}),
    ],
)  # fmt: skip
def test_other_long_runs_are_refused(notebook, values, monkeypatch):
    monkeypatch.delenv(params.ALLOW_LONG_ENV, raising=False)
    with pytest.raises(params.ParameterError, match="would run for about"):
        params.validate(notebook, values)


def test_the_largest_simulation_of_notebook_09_is_minutes_since_vectorized(monkeypatch):
    """n_sim at its upper bound (10 million trials per scenario): about 2 minutes, run."""
    monkeypatch.delenv(params.ALLOW_LONG_ENV, raising=False)
    largest = {"n_sim": params.SPECS["09_power_and_sample_size"]["n_sim"].high}
    assert 60 < params.estimate_seconds("09_power_and_sample_size", largest) < 600
    params.validate("09_power_and_sample_size", largest)


def test_the_runner_prints_the_estimate_and_refuses_before_running(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv(params.ALLOW_LONG_ENV, raising=False)
    out = tmp_path / "r"
    code = cli.main(
        ["run", "--only", "07", "-p", "sim_trials", "100000", "-p", "sim_mmrm", "true",
         "--out", str(out)]
    )  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert "would run for about" in err and "--allow-long" in err and "nothing was executed" in err
    assert not out.exists()


def test_the_in_notebook_check_refuses_combinations_too():
    namespace = {**params.defaults("07_missing_data_and_estimands"), "delta_step": 5.0}
    with pytest.raises(params.ParameterError, match="do not work together"):
        params.check("07_missing_data_and_estimands", namespace)


def test_allow_long_lets_a_long_run_through(fixture_notebooks, tmp_path, capsys, monkeypatch):
    """With a limit below the fixtures' estimate: refused, then run with --allow-long."""
    monkeypatch.delenv(params.ALLOW_LONG_ENV, raising=False)
    monkeypatch.setattr(params, "LONG_RUN_SECONDS", 1.0)
    out = tmp_path / "r"
    base = ["run", "--only", "01", "--notebooks", str(fixture_notebooks), "--out", str(out)]
    assert cli.main(base) == 2
    err = capsys.readouterr().err
    assert "01_records: these parameters would run for about 5 s" in err
    assert not out.exists()
    assert cli.main([*base, "--allow-long"]) == 0
    err = capsys.readouterr().err
    assert "estimated run time: about 5 s" in err
    assert (out / "01_records.json").exists()
