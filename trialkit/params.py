"""Notebook parameters: what each notebook accepts, and the check that enforces it.

Every notebook has one code cell tagged ``parameters`` holding literals only (the
defaults). This module declares, per notebook, each parameter's type, allowed values and
meaning (``SPECS``). The same declaration is used twice:

- by the runner (``python -m trialkit run -p name value``), *before* anything executes;
- inside the notebook, right after the parameters cell, by ``check(notebook, globals())``,
  so that plain ``papermill`` runs and interactive runs are checked too.

A test keeps ``SPECS`` and the notebooks' parameters cells in step (same names, same
defaults).
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "DATA_DIR",
    "SPECS",
    "Param",
    "ParameterError",
    "check",
    "coerce",
    "data_folder",
    "defaults",
    "validate",
]


class ParameterError(ValueError):
    """A notebook parameter is unknown, of the wrong type, or out of range."""


@dataclass(frozen=True)
class Param:
    """One notebook parameter.

    The type is that of ``default`` (bool, int, float or str; an int is accepted where a
    float is expected). ``low``/``high`` bound numbers (inclusive unless ``open_low`` /
    ``open_high``); ``choices`` lists the allowed values. ``check`` is an extra test run
    after the type and range checks: it returns why a value is not allowed, or None (for
    example ``data_folder``, which validates an analyst's data before any work is done).
    """

    default: Any
    help: str
    low: float | None = None
    high: float | None = None
    open_low: bool = False
    open_high: bool = False
    choices: tuple[Any, ...] | None = None
    check: Callable[[Any], str | None] | None = None
    path: bool = False  # a file or folder: validate() returns it as an absolute path

    @property
    def type(self) -> type:
        return type(self.default)

    def allowed(self) -> str:
        """What is allowed, in words, e.g. ``a float with 0 < value < 0.5``."""
        kind = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}
        words = kind.get(self.type, self.type.__name__)
        if self.choices is not None:
            return "one of " + ", ".join(repr(c) for c in self.choices)
        bounds = []
        if self.low is not None:
            bounds.append(f"{self.low:g} {'<' if self.open_low else '<='} value")
        if self.high is not None:
            bounds.append(f"value {'<' if self.open_high else '<='} {self.high:g}")
        if bounds:
            words += " with " + " and ".join(bounds)
        return words

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is not allowed, or None if it is."""
        t = self.type
        if t is bool:
            ok = isinstance(value, bool)
        elif t is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif t is float:
            ok = isinstance(value, int | float) and not isinstance(value, bool)
        else:
            ok = isinstance(value, t)
        if not ok:
            return f"has type {type(value).__name__}, expected {self.allowed()}"
        if t is float and not math.isfinite(value):
            return f"is {value!r}, expected a finite number"
        if self.choices is not None and value not in self.choices:
            return f"is not allowed: expected {self.allowed()}"
        if self.low is not None and (value < self.low or (self.open_low and value == self.low)):
            return f"is out of range: expected {self.allowed()}"
        if self.high is not None and (value > self.high or (self.open_high and value == self.high)):
            return f"is out of range: expected {self.allowed()}"
        if self.check is not None:
            return self.check(value)
        return None


def data_folder(value: str) -> str | None:
    """Check a ``data_dir`` parameter: "" (the synthetic patients) or a valid data folder.

    A folder must hold ADSL.csv, ADLB.csv and ADEX.csv (ADAE.csv optional) meeting the
    dataset contracts of ``trialkit.schema``; every problem is reported, naming the file,
    column and rows. Relative paths are taken from the current directory. The files are
    only read, never changed.
    """
    if value == "":
        return None
    from trialkit import schema

    folder = Path(value)
    if not folder.is_dir():
        return f"is not a folder ({folder.resolve()} does not exist or is a file)"
    try:
        schema.read(folder)
    except ValueError as e:
        return f"points at data that do not meet the dataset contracts:\n{e}"
    return None


#: The ``data_dir`` parameter of every notebook that uses patient data.
DATA_DIR = Param(
    "",
    'patient data: "" for the synthetic patients, or a folder with ADSL.csv, ADLB.csv, '
    "ADEX.csv (and ADAE.csv) in this project's format",
    check=data_folder,
    path=True,
)

_ALPHA = Param(0.05, "two-sided significance level", low=0, high=0.5, open_low=True)

#: Parameters of each notebook, keyed by the notebook's file name without ``.ipynb``.
SPECS: dict[str, dict[str, Param]] = {
    "02_what_the_paper_reports": {
        "alpha": _ALPHA,
        "fragility_test": Param(
            "fisher",
            "test used for the fragility index",
            choices=("fisher", "chi2", "chi2_yates", "barnard", "boschloo"),
        ),
        "rounding": Param(
            "half-up",
            "how the paper is assumed to round percentages when searching for denominators",
            choices=("half-up", "half-even", "any"),
        ),
        "max_n_per_arm": Param(
            46, "largest arm size searched for the HbA1c p = 0.0081 question", low=10, high=200
        ),
    },
}


def defaults(notebook: str) -> dict[str, Any]:
    """The default value of every parameter of ``notebook``."""
    return {name: p.default for name, p in _spec(notebook).items()}


def coerce(notebook: str, name: str, text: str) -> Any:
    """Turn a command-line string into the parameter's declared type.

    ``-p alpha 0.01`` gives the float 0.01; ``-p fragility_test chi2`` the string.
    Raises ParameterError naming the parameter when the text does not parse.
    """
    spec = _spec(notebook)
    if name not in spec:
        raise ParameterError(_unknown(notebook, name, spec))
    t = spec[name].type
    try:
        if t is bool:
            low = text.strip().lower()
            if low in ("true", "yes", "1"):
                return True
            if low in ("false", "no", "0"):
                return False
            raise ValueError(text)
        if t is int:
            return int(text)
        if t is float:
            return float(text)
    except ValueError:
        raise ParameterError(
            f"{notebook}: parameter {name!r} = {text!r} does not parse: "
            f"expected {spec[name].allowed()} ({spec[name].help})"
        ) from None
    return text


def validate(notebook: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """Check ``values`` against the notebook's declared parameters.

    Returns the full parameter set (defaults overlaid with ``values``; paths made
    absolute). Raises one
    ParameterError listing every problem, each naming the parameter, its value and what
    is allowed. Nothing else is done, so a caller can validate before executing anything.
    """
    spec = _spec(notebook)
    problems = []
    for name, value in values.items():
        if name not in spec:
            problems.append(_unknown(notebook, name, spec))
            continue
        why = spec[name].problem(value)
        if why:
            problems.append(f"{notebook}: parameter {name!r} = {value!r} {why} ({spec[name].help})")
    if problems:
        raise ParameterError("\n".join(problems))
    full = {**defaults(notebook), **values}
    for name, p in spec.items():  # a notebook may run in another folder than the caller
        if p.path and full[name]:
            full[name] = str(Path(full[name]).resolve())
    return full


def check(notebook: str, namespace: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a notebook's parameters from inside the notebook.

    Call it in the cell after the ``parameters`` cell with ``globals()``: it reads every
    declared parameter from the namespace (papermill's injected values included) and
    raises ParameterError before any work is done if one is wrong. Returns the values.
    """
    spec = _spec(notebook)
    missing = [name for name in spec if name not in namespace]
    if missing:
        raise ParameterError(
            f"{notebook}: the parameters cell does not define {', '.join(missing)}"
        )
    return validate(notebook, {name: namespace[name] for name in spec})


def _spec(notebook: str) -> dict[str, Param]:
    try:
        return SPECS[notebook]
    except KeyError:
        raise ParameterError(
            f"no parameters are declared for notebook {notebook!r}; known notebooks: "
            + ", ".join(sorted(SPECS))
        ) from None


def _unknown(notebook: str, name: str, spec: Mapping[str, Param]) -> str:
    close = difflib.get_close_matches(name, list(spec), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"{notebook}: unknown parameter {name!r}{hint}; this notebook takes: " + ", ".join(
        f"{n} ({p.allowed()})" for n, p in spec.items()
    )
