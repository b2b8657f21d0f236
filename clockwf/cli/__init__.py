"""The ``clockwf`` command line: parse, call the library, render, exit code. Nothing else.

Each command group lives in its own module and registers itself on :data:`app`. Exceptions are
mapped to messages and exit codes in one place, :func:`main`: 0 ok; 1 invalid input, not found
or refused; 2 usage; 3 store unreachable.
"""

from __future__ import annotations

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
from clockwf.cli import db as _db  # noqa: F401  isort: skip
from clockwf.cli import web as _web  # noqa: F401  isort: skip


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code instead of raising SystemExit."""
    try:
        result = app(args=argv, prog_name="clockwf", standalone_mode=False)
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
        if os.environ.get("CLOCKWF_DEBUG") == "1":
            traceback.print_exc()
        error(f"internal error (a bug in clockwf, please report it): {type(exc).__name__}: "
              f"{exc}" + ("" if os.environ.get("CLOCKWF_DEBUG") == "1" else
                          "; set CLOCKWF_DEBUG=1 to see the traceback"))
        return 1
    return result if isinstance(result, int) else 0
