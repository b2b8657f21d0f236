"""``clockwf worker`` (execute queued runs, schedule nothing) and ``clockwf prune``."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer

from clockwf import logs, render
from clockwf.cli.app import DbOpt, FormatOpt, LogFormat, NamespaceOpt, NowOpt, OutputFormat, app
from clockwf.clock import SystemClock, parse_now
from clockwf.errors import ClockwfError
from clockwf.retention import prune as prune_history
from clockwf.store import open_store
from clockwf.timeutil import parse_duration


def _seconds(text: str, option: str, *, minimum: float = 0.0) -> float:
    try:
        value = parse_duration(text).total_seconds()
    except ClockwfError as exc:
        raise typer.BadParameter(exc.message, param_hint=option) from None
    if value < minimum:
        raise typer.BadParameter(f"must be at least {minimum:g}s", param_hint=option)
    return value


@app.command()
def worker(
    db: DbOpt = None, namespace: NamespaceOpt = "default",
    workers: Annotated[int, typer.Option("--workers", envvar="CLOCKWF_WORKERS", min=1, max=256,
                                         help="Runs executed at once.")] = 4,
    lease: Annotated[str, typer.Option("--lease", envvar="CLOCKWF_LEASE",
                                       help="Run lease, renewed every third of it; the runs "
                                            "of a worker that died become interrupted after "
                                            "it.")] = "30s",
    grace: Annotated[str, typer.Option("--grace", envvar="CLOCKWF_GRACE",
                                       help="On SIGTERM/SIGINT, how long running steps may "
                                            "finish before they are killed.")] = "30s",
    log_format: Annotated[LogFormat, typer.Option(
        "--log-format", envvar="CLOCKWF_LOG_FORMAT",
        help="human or json lines.")] = LogFormat.human,
    log_level: Annotated[str, typer.Option("--log-level", envvar="CLOCKWF_LOG_LEVEL",
                                           help="debug, info, warning or error.")] = "info",
) -> None:
    """Execute queued runs and schedule nothing (pair with `clockwf daemon --no-execute`).

    Runs until SIGTERM or SIGINT: then it stops claiming, lets running steps finish within
    --grace, kills what is left and marks those runs interrupted. A second signal stops at
    once. Speaks sd_notify when $NOTIFY_SOCKET is set, as the daemon does.
    """
    from clockwf.daemon import instance_name
    from clockwf.worker import Worker, WorkerOptions, worker_connections

    options = WorkerOptions(workers=workers, lease_seconds=_seconds(lease, "--lease", minimum=1),
                            grace=_seconds(grace, "--grace"))
    logs.setup(log_format.value, log_level)
    with open_store(db, namespace, pool_size=worker_connections(workers),
                    application_name="clockwf-worker") as store:
        w = Worker(store, instance=f"worker:{instance_name()}", options=options,
                   clock=SystemClock())
        w.install_signals()
        w.run()


@app.command()
def prune(
    older_than: Annotated[str, typer.Option("--older-than", envvar="CLOCKWF_PRUNE_OLDER_THAN",
                                            help="Age beyond which history goes: 30d, 12h.")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only count what would "
                                                            "go.")] = False,
    db: DbOpt = None, namespace: NamespaceOpt = "default", now: NowOpt = None,
    fmt: FormatOpt = OutputFormat.human,
) -> None:
    """Remove finished runs with their step attempts and output, skip records, and completed
    or missed one-time schedules older than --older-than. Never a queued or running run."""
    age = timedelta(seconds=_seconds(older_than, "--older-than", minimum=1))
    with open_store(db, namespace) as store:
        report = prune_history(store, older_than=age, now=parse_now(now), dry_run=dry_run)
    if fmt is OutputFormat.json:
        render.emit_json(report.as_json())
        return
    title = (f"{'would delete' if dry_run else 'deleted'} (finished before "
             f"{report.as_json()['before']})")
    render.table(title, ["kind", "count"], [(kind.replace("_", " "), n)
                                           for kind, n in report.deleted.items()])
