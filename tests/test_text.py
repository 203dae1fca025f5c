"""The number formatters of ``trialkit.text`` that prose and tables share."""

from __future__ import annotations

import math

import pytest

from trialkit import text


@pytest.mark.parametrize(
    ("x", "digits", "shown"),
    [
        (0.4321, 2, "0.43"),
        (0.994999, 2, "0.99"),
        (0.995, 2, "above 0.99"),  # would round to 1.00: never printed as a certainty
        (0.9999997, 2, "above 0.99"),
        (1.0, 2, "above 0.99"),
        (0.005, 2, "0.01"),
        (0.00499, 2, "below 0.01"),  # would round to 0.00
        (0.0, 2, "below 0.01"),
        (0.9994, 3, "0.999"),
        (0.99951, 3, "above 0.999"),
        (None, 2, "–"),
        (math.nan, 2, "–"),
    ],
)
def test_prob_never_rounds_to_a_certainty(x, digits, shown):
    assert text.prob(x, digits) == shown


def test_prob_is_a_spec_of_say_and_of_tables():
    assert text.fill("P = {x:prob}", x=0.9999) == "P = above 0.99"
    assert text.formatter("prob")(0.25) == "0.25"


def test_warning_note_is_one_escaped_line_naming_its_library():
    note = text.warning_note(
        "\nFailed to converge.\nThe last value was [10.]; returning nan (see ``res``) <b>",
        type("ConvergenceWarning", (Warning,), {}),
        "/x/.venv/lib/python3.11/site-packages/statsmodels/stats/power.py",
    )
    assert note == (
        "**Warning** (statsmodels): Failed to converge. The last value was \\[10.\\]; "
        "returning nan (see \\`\\`res\\`\\`) &lt;b&gt; *(ConvergenceWarning)*"
    )
    # trialkit's own warnings point at the notebook's line: no library named
    assert text.warning_note("mmrm did not converge", UserWarning, "/tmp/ipykernel_7/1.py") == (
        "**Warning**: mmrm did not converge *(UserWarning)*"
    )
