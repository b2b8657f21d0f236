"""The ``clockwf`` command line: parse, call the library, render, exit code. Nothing else.

Each command group lives in its own module and registers itself on :data:`app`. Exceptions are
mapped to messages and exit codes in one place, :func:`main`: 0 ok; 1 invalid input, not found
or refused; 2 usage; 3 store unreachable.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback

import typer

from clockwf.cli.app import app
from clockwf.errors import ClockwfError
from clockwf.render import error

# Command modules register themselves on `app` when imported (this order is the help order).
from clockwf.cli import definitions as _definitions  # noqa: F401  isort: skip
from clockwf.cli import workflows as _workflows  # noqa: F401  isort: skip
from clockwf.cli import runs as _runs  # noqa: F401  isort: skip
from clockwf.cli import scheduling as _scheduling  # noqa: F401  isort: skip
from clockwf.cli import worker as _worker  # noqa: F401  isort: skip
from clockwf.cli import notify as _notify  # noqa: F401  isort: skip
from clockwf.cli import db as _db  # noqa: F401  isort: skip
from clockwf.cli import imports as _imports  # noqa: F401  isort: skip
from clockwf.cli import web as _web  # noqa: F401  isort: skip


# Options whose value may be left out: ``--prune`` alone is ``--prune=pause`` (Typer has no
# optional option values, so a bare occurrence is completed here, before parsing).
OPTIONAL_VALUES = {"--prune": "pause"}


def complete_optional_values(argv: list[str]) -> list[str]:
    out: list[str] = []
    for i, arg in enumerate(argv):
        if arg == "--":
            return out + argv[i:]
        out.append(f"{arg}={OPTIONAL_VALUES[arg]}" if arg in OPTIONAL_VALUES else arg)
    return out

log = logging.getLogger("clockwf.cli")


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code instead of raising SystemExit."""
    args = complete_optional_values(sys.argv[1:] if argv is None else argv)
    try:
        result = app(args=args, prog_name="clockwf", standalone_mode=False)
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        error("aborted")
        return 1
    except typer.TyperException as exc:  # usage errors (exit 2): typer vendors click
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            error(exc.message)
        return int(exc.exit_code)
    except ClockwfError as exc:
        error(exc.message)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        sys.stderr.close()
        return 0
    except Exception as exc:  # a bug: say so plainly; the traceback on request
        debug = os.environ.get("CLOCKWF_DEBUG") == "1"
        message = (f"internal error (a bug in clockwf, please report it): "
                   f"{type(exc).__name__}: {exc}"
                   + ("" if debug else "; set CLOCKWF_DEBUG=1 to see the traceback"))
        if logging.getLogger("clockwf").handlers:   # a daemon or worker: in its log format
            log.critical(message, exc_info=debug, extra={"action": "cli.internal_error"})
        else:
            if debug:
                traceback.print_exc()
            error(message)
        return 1
    return result if isinstance(result, int) else 0
