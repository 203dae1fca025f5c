"""Command line: ``python -m trialkit run|list``.

    python -m trialkit run                          # every notebook into reports/
    python -m trialkit run --only 02 -p alpha 0.01  # one notebook, another parameter
    python -m trialkit run -f params.yaml --report  # parameters from YAML, code hidden
    python -m trialkit run --edition student        # no solutions; hand-out copies too
    python -m trialkit run --force                  # execute even what the cache has
    python -m trialkit list                         # notebooks and their parameters
    python -m trialkit lab-copies lab/              # student copies for JupyterLab

Exit status: 0 all rendered; 1 a notebook failed (the others still rendered); 2 bad
parameters, names, files or data, or a run estimated above 10 minutes without
``--allow-long`` (nothing was executed); 130 interrupted (Ctrl-C, SIGINT); 143 stopped
by SIGTERM.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def main(argv: list[str] | None = None) -> int:
    from trialkit import params
    from trialkit import run as runner

    parser = argparse.ArgumentParser(prog="python -m trialkit", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="execute notebooks into reports/ (ipynb, html, json, index)")
    run.add_argument("--only", nargs="+", metavar="NAME", help="notebook names or numbers (02)")
    run.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="set a parameter (repeatable)",
    )
    run.add_argument(
        "-f",
        "--parameters-file",
        type=Path,
        metavar="YAML",
        help="parameters from a YAML mapping (-p values win)",
    )
    run.add_argument("--out", type=Path, default=None, help="output folder (default reports/)")
    run.add_argument(
        "--notebooks", type=Path, default=None, help="folder of notebooks (default notebooks/)"
    )
    run.add_argument("--report", action="store_true", help="hide code in the HTML pages")
    run.add_argument(
        "--edition",
        choices=runner.EDITIONS,
        default="reader",
        help="reader: solutions collapsed (default); instructor: solutions open; "
        "student: solutions removed, clean copies in OUT/notebooks/ (OUT defaults to "
        "reports/<edition>/ for the instructor and student editions)",
    )
    run.add_argument("--jobs", type=int, default=None, help="notebooks at a time (default: cores)")
    run.add_argument(
        "--force",
        action="store_true",
        help="execute every chosen notebook, even those whose rendering is up to date",
    )
    run.add_argument(
        "--allow-long",
        action="store_true",
        help="run even if the run-time estimate of a notebook is above 10 minutes",
    )
    sub.add_parser("list", help="list notebooks and their parameters")
    copies = sub.add_parser(
        "lab-copies", help="write the notebooks without solutions into a folder (make lab)"
    )
    copies.add_argument("folder", type=Path, nargs="?", default=None, help="default: lab/")
    args = parser.parse_args(argv)

    if args.command == "lab-copies":
        from trialkit import lab

        written = lab.student_copies(args.folder or lab.LAB)
        print(f"{len(written)} student notebooks (no solutions) in {written[0].parent}")
        return 0

    if args.command == "list":
        for path in runner.notebooks():
            print(path.stem)
            for name, p in params.SPECS.get(path.stem, {}).items():
                print(f"    {name} = {p.default!r}: {p.help}; {p.allowed()}")
            if path.stem in params.SPECS:
                seconds = params.estimate_seconds(path.stem, {})
                print(
                    f"    (about {params._duration(seconds)} with these defaults; runs "
                    f"estimated above {params._duration(params.LONG_RUN_SECONDS)} need "
                    "--allow-long)"
                )
        return 0

    try:
        given: dict[str, Any] = _read_yaml(args.parameters_file) if args.parameters_file else {}
        outcomes = runner.render(
            only=args.only,
            parameters=given,
            text_parameters=dict(args.parameter),
            out=args.out or _default_out(runner.REPORTS, args.edition),
            edition=args.edition,
            folder=args.notebooks or runner.NOTEBOOKS,
            report=args.report,
            jobs=args.jobs,
            allow_long=args.allow_long,
            force=args.force,
        )
    except (params.ParameterError, ValueError, OSError) as e:
        print(f"error: {e}\nnothing was executed.", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:
        why = f"{e}: " if str(e) else ""
        print(
            f"interrupted ({why}every notebook process was ended); reports finished before "
            "were kept, nothing partial was published.",
            file=sys.stderr,
        )
        return 143 if "SIGTERM" in str(e) else 130
    failed = [o for o in outcomes if not o.ok]
    if failed:
        print(f"{len(failed)} of {len(outcomes)} notebooks failed:", file=sys.stderr)
        for o in failed:
            print(f"  {o.message}", file=sys.stderr)
        return 1
    return 0


def _default_out(reports: Path, edition: str) -> Path:
    return reports if edition == "reader" else reports / edition


_MAX_YAML_BYTES = 1_000_000
_MAX_MESSAGE = 300


def _short(text: str, limit: int = _MAX_MESSAGE) -> str:
    """``text`` on one line, cut to ``limit`` characters (error messages stay readable)."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _read_yaml(path: Path) -> dict[str, Any]:
    """A parameters file: a YAML mapping of parameter names to plain values.

    Refused, with a short message naming the file (ValueError): a file that cannot be read,
    is larger than 1 MB, is not UTF-8 text, is not valid YAML, uses anchors or aliases
    (``&a`` / ``*a``: an alias bomb of a few hundred bytes would otherwise expand to
    gigabytes), repeats a key (YAML would silently keep the last value), or is not a
    mapping with text keys. Every message is at most about 300 characters.
    """
    import yaml

    try:
        size = path.stat().st_size
        if size > _MAX_YAML_BYTES:
            raise ValueError(f"{path}: parameters file too large ({size} bytes; at most 1 MB)")
        raw = path.read_bytes()
    except OSError as e:
        message = f"{path}: cannot read the parameters file: {e.strerror or e}"
        raise ValueError(_short(message)) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ValueError(
            f"{path}: not a text file (byte {raw[e.start]:#04x} at position {e.start} is not "
            "UTF-8); a parameters file is YAML text, e.g. 'alpha: 0.01'"
        ) from None
    if "\x00" in text:
        raise ValueError(f"{path}: not a text file (it contains NUL bytes)")

    class _Loader(yaml.SafeLoader):
        """SafeLoader without anchors, aliases or repeated keys."""

        def compose_node(self, parent: Any, index: Any) -> Any:
            event = self.peek_event()
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                mark = event.start_mark
                raise _Refused(
                    f"line {mark.line + 1}: anchors and aliases (&name, *name) are not "
                    "allowed in a parameters file; write each value out"
                )
            return super().compose_node(parent, index)

        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                try:
                    hash(key)
                except TypeError:
                    continue  # reported below as a non-text key
                line = key_node.start_mark.line + 1
                if key in seen:
                    raise _Refused(
                        f"key {_short(repr(key), 60)} appears twice (lines {seen[key]} and "
                        f"{line}); give each parameter once"
                    )
                seen[key] = line
            return super().construct_mapping(node, deep=deep)

    try:
        data = yaml.load(text, Loader=_Loader)  # a SafeLoader subclass
    except _Refused as e:
        raise ValueError(_short(f"{path}: {e}")) from None
    except yaml.YAMLError as e:
        raise ValueError(_short(f"{path}: not valid YAML: {e}")) from None
    except RecursionError:
        raise ValueError(f"{path}: not valid YAML: nested too deeply") from None
    if data is None:
        return {}
    if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
        raise ValueError(f"{path}: expected a mapping of parameter names to values")
    return data


class _Refused(Exception):
    """A parameters file uses a YAML feature this project refuses."""


if __name__ == "__main__":
    sys.exit(main())
