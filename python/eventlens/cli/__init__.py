"""The ``eventlens`` command line.

Each subcommand lives in its own module of this package and exposes
``register(subparsers)``; :data:`COMMANDS` lists them in the order ``--help``
shows them.  User errors (:class:`eventlens.errors.EventLensError`, bad
values, missing files) print one line and exit with status 2; ``--debug``
shows the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from .. import __version__
from ..errors import EventLensError

#: Subcommand modules, in --help order.
COMMANDS = (
    "demo", "render", "select", "infer", "plot", "generate", "make-samples", "validate-samples",
    "train", "evaluate", "export", "compare", "explain",
    "fit", "measurement-study",
    "hgg-study",
    "condor-submit", "merge",
)

log = logging.getLogger("eventlens")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="eventlens",
        description="Classify LHC collision events drawn as images, inside a coffea analysis.",
    )
    parser.add_argument("--version", action="version", version=f"eventlens {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    parser.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name.replace('-', '_')}").register(sub)
    return parser


def setup_logging(verbose: int, quiet: bool) -> None:
    level = logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO
    try:
        from rich.logging import RichHandler

        handler: logging.Handler = RichHandler(show_path=False, rich_tracebacks=False)
        fmt = "%(message)s"
    except ImportError:  # pragma: no cover
        handler = logging.StreamHandler()
        fmt = "%(levelname)s %(name)s: %(message)s"
    logging.basicConfig(level=level, format=fmt, datefmt="[%X]", handlers=[handler], force=True)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        parser = build_parser()
    except EventLensError as exc:  # e.g. an unimportable module in $EVENTLENS_TASKS
        print(f"eventlens: error: {exc}", file=sys.stderr)
        return 2
    args = parser.parse_args(argv)
    setup_logging(args.verbose, args.quiet)
    try:
        return int(args.func(args) or 0)
    except (EventLensError, ValueError, FileNotFoundError, FileExistsError, PermissionError) as exc:
        if args.debug:
            raise
        log.error("%s", exc)
        return 2
    except ModuleNotFoundError as exc:  # an optional dependency (extra) not installed
        from ..extras import missing_dependency

        error = missing_dependency(exc)
        if error is None or args.debug:
            raise
        log.error("eventlens %s: %s", args.command, error)
        return 2
    except KeyboardInterrupt:
        log.error("interrupted")
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
