"""The JSON API under ``/api/v1``: the documents of ``--format json`` (built by
:mod:`clockwf.documents`), and the writes an operator makes.

Scopes: every GET needs ``read``; run, pause, resume, emit, backfill and cancel need
``operate``; publish needs ``admin``. Errors are ``{"error": message}`` (and ``diagnostics``
with line and column for a definition that does not validate): 401 no or unknown token, 403
scope or CSRF, 404 not found (also another namespace's), 409 refused, 422 invalid input, 503
store unavailable.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from clockwf import documents, lifecycle, runs
from clockwf.errors import DefinitionInvalid, InvalidInput
from clockwf.timeutil import parse_instant, zone_or_offset
from clockwf.web.app import OVERDUE_AFTER, STALE_AFTER, store_for, web

router = APIRouter(prefix="/api/v1", tags=["clockwf"])

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No or unknown token"},
    403: {"description": "The token's scope does not allow it (or a missing CSRF token)"},
    404: {"description": "Not found in the token's namespace"},
    422: {"description": "Invalid input"},
    503: {"description": "Store unavailable"},
}


class Doc(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- documents -----------------------------------------------------------------------------------

class WorkflowRow(Doc):
    workflow_id: str
    status: str
    trigger_type: str
    version: int
    next_fire_at: str | None
    schedule_status: str | None
    published_from: str | None = Field(None, description="The source the current version "
                                       "was published from (publish --source / a directory).")
    paused_note: str | None = None


class Workflows(Doc):
    workflows: list[WorkflowRow]
    total: int | None = Field(None, description="With limit: how many match, all pages.")


class ScheduleDoc(Doc):
    status: str
    next_fire_at: str | None
    last_fire_key: str | None
    last_fired_at: str | None
    enabled: bool
    status_reason: str | None


class VersionDoc(Doc):
    version: int
    published_at: str | None
    published_from: str | None = None


class WorkflowDetail(WorkflowRow):
    name: str | None
    description: str | None
    shown_version: int
    schedule: ScheduleDoc | None
    versions: list[VersionDoc]
    definition: dict[str, Any]


class RunRow(Doc):
    run_id: int
    workflow_id: str
    workflow_version: int
    trigger_type: str
    fire_key: str
    scheduled_for: str | None
    status: str
    created_at: str | None
    started_at: str | None
    finished_at: str | None
    metadata: dict[str, Any]


class Runs(Doc):
    runs: list[RunRow]


class StepAttempt(Doc):
    step_index: int
    step_id: str
    attempt: int
    kind: str
    status: str
    started_at: str | None
    finished_at: str | None
    duration_ms: int | None
    exit_code: int | None
    http_status: int | None
    output: str | None
    error: str | None


class RunDetail(RunRow):
    payload: Any
    error: str | None
    provenance: str
    lease_owner: str | None
    steps: list[StepAttempt]


class Started(Doc):
    workflow_id: str
    fire_key: str
    run_id: int | None
    duplicate: bool
    existing_run_id: int | None


class Emitted(Doc):
    event: str
    runs: list[Started]


class StateChange(Doc):
    workflow_id: str
    status: str
    next_fire_at: str | None
    skipped: int
    detail: str | None


class CancelledRun(Doc):
    run_id: int
    was: str


class Cancelled(Doc):
    cancelled: list[CancelledRun]


class Backfill(Doc):
    workflow_id: str
    dry_run: bool
    launched: list[dict[str, Any]]
    existing: list[dict[str, Any]]
    would_launch: list[dict[str, Any]]


class Explanation(Doc):
    workflow_id: str
    at: str | None
    outcome: str
    message: str
    occurrence: dict[str, Any] | None
    run: dict[str, Any] | None
    skip: dict[str, Any] | None
    nearest: list[dict[str, Any] | None]


class Fire(Doc):
    at: str | None
    utc: str | None
    note: str | None


class Fires(Doc):
    fires: list[Fire]


class Published(Doc):
    workflow_id: str
    version: int
    status: str
    trigger_type: str
    next_fire_at: str | None


class PublishedDoc(Doc):
    published: list[Published]


class RunsCount(Doc):
    queued: int
    running: int


class Health(Doc):
    ok: bool
    now: str | None
    daemons: list[dict[str, Any]]
    runs: RunsCount
    most_overdue: dict[str, Any] | None
    problems: list[str]


class Timeline(Doc):
    workflow_id: str
    from_: str | None = Field(alias="from")
    to: str | None
    now: str | None
    timezone: str
    occurrences: list[dict[str, Any]]
    truncated: bool
    runs: list[dict[str, Any]]
    dst_changes: list[dict[str, Any]]


# -- request bodies ------------------------------------------------------------------------------

class StartBody(Doc):
    payload: Any = Field(None, description="Any JSON value: the run's payload.")
    key: str | None = Field(None, min_length=1, max_length=200, pattern=r"^\S+$",
                            description="Idempotency key (a run) or event id (an event): "
                                        "the same key again starts nothing.")


class PauseBody(Doc):
    note: str | None = Field(None, max_length=1000)


class BackfillBody(Doc):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    from_: str = Field(alias="from", description="ISO 8601; naive: the schedule's zone.")
    to: str = Field(description="ISO 8601; naive: the schedule's zone.")
    dry_run: bool = Field(True, description="Only say what would launch (the default).")


# -- helpers -------------------------------------------------------------------------------------

WorkflowId = Annotated[str, Query(max_length=200)]


def _zone(request: Request, workflow_id: str) -> Any:
    store = store_for(request)
    with store.read() as tx:
        schedule = tx.get_schedule(workflow_id)
    return zone_or_offset(schedule["timezone"]) if schedule else UTC


def respond(doc: dict[str, Any], status_code: int = 200) -> Response:
    """The document as it is: the response models describe it in the OpenAPI document (and
    the schemathesis test holds the two together) without a second validation per request,
    which would double the cost of a long list."""
    return JSONResponse(doc, status_code=status_code)


def _instant(text: str, what: str, zone: Any = UTC) -> datetime:
    return parse_instant(text, default_tz=zone, what=what)


# -- reads ---------------------------------------------------------------------------------------

@router.get("/workflows", response_model=Workflows, responses=ERRORS)
def list_workflows(
    request: Request,
    trigger: Annotated[str | None, Query(description="manual, event, schedule, recurring "
                                                     "or scheduled")] = None,
    status: Annotated[str | None, Query(description="published, paused, scheduled, "
                                                    "completed or missed")] = None,
    search: Annotated[str | None, Query(max_length=200, description="Part of the id or "
                                                                    "name.")] = None,
    limit: Annotated[int | None, Query(ge=1, le=1000, description="A page of at most this "
                                                                  "many (then total).")] = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Response:
    """The workflows, as `clockwf list --format json`; with limit (or search), one page."""
    store = store_for(request)
    if limit is None and search is None and offset == 0:
        return respond(documents.workflows(lifecycle.list_workflows(store, trigger=trigger,
                                                                    status=status)))
    rows, total = lifecycle.page_workflows(store, trigger=trigger, status=status,
                                           search=search, limit=limit or 50, offset=offset)
    doc = documents.workflows(rows)
    doc["total"] = total
    return respond(doc)


@router.get("/workflows/{workflow_id}", response_model=WorkflowDetail, responses=ERRORS)
def show_workflow(request: Request, workflow_id: str,
                  version: Annotated[int | None, Query(ge=1, le=2**31)] = None
                  ) -> dict[str, Any]:
    """One workflow with its versions, schedule and definition, as `clockwf show`."""
    return documents.workflow_detail(lifecycle.show(store_for(request), workflow_id, version))


@router.get("/workflows/{workflow_id}/explain", response_model=Explanation, responses=ERRORS)
def explain(request: Request, workflow_id: str,
            at: Annotated[str, Query(max_length=64, description="ISO 8601; naive: the "
                                                                "schedule's zone.")]
            ) -> dict[str, Any]:
    """What happened to the occurrence nearest `at`, as `clockwf explain`."""
    instant = _instant(at, "at", _zone(request, workflow_id))
    answer = runs.explain(store_for(request), workflow_id, instant, web(request).now())
    return answer.as_json()


@router.get("/workflows/{workflow_id}/next", response_model=Fires, responses=ERRORS)
def next_fires(request: Request, workflow_id: str,
               count: Annotated[int, Query(ge=1, le=1000)] = 10) -> dict[str, Any]:
    """The next fires of the published definition, as `clockwf next FILE`."""
    detail = lifecycle.show(store_for(request), workflow_id)
    now = web(request).now()
    rows, _title, _warning = documents.definition_fires(detail.definition, lambda _z: now,
                                                        count)
    return documents.fires(rows)


@router.get("/workflows/{workflow_id}/timeline", response_model=Timeline, responses=ERRORS)
def timeline(request: Request, workflow_id: str,
             from_: Annotated[str | None, Query(alias="from", max_length=64)] = None,
             to: Annotated[str | None, Query(max_length=64)] = None) -> Response:
    """Every occurrence in a span (default: the last 24 hours and the next 6): its run, or
    the reason it was not launched; other runs; DST changes."""
    from clockwf.web.timeline import timeline as build

    now = web(request).now()
    zone = _zone(request, workflow_id)
    start = _instant(from_, "from", zone) if from_ else now - timedelta(hours=24)
    end = _instant(to, "to", zone) if to else now + timedelta(hours=6)
    return respond(build(store_for(request), workflow_id, start, end, now))


@router.get("/runs", response_model=Runs, responses=ERRORS)
def list_runs(
    request: Request,
    workflow_id: WorkflowId | None = None,
    trigger: Annotated[str | None, Query(description="manual, event, schedule or "
                                                     "recurring")] = None,
    status: Annotated[str | None, Query(description="queued, running, succeeded, failed, "
                                                    "timed_out, cancelled or "
                                                    "interrupted")] = None,
    since: Annotated[str | None, Query(max_length=64, description="ISO 8601 (naive: "
                                                                  "UTC)")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> Response:
    """Runs, newest first, as `clockwf runs --format json`."""
    when = _instant(since, "since") if since else None
    return respond(documents.runs(runs.list_runs(store_for(request), workflow_id=workflow_id,
                                                 trigger=trigger, status=status, since=when,
                                                 limit=limit)))


@router.get("/runs/{run_id}", response_model=RunDetail, responses=ERRORS)
def show_run(request: Request, run_id: Annotated[int, Path(ge=1, le=2**62)]
             ) -> Response:
    """One run: provenance, payload, steps, attempts, output tail, as `clockwf runs show`."""
    run, steps = runs.get_run(store_for(request), run_id)
    return respond(documents.run_detail(run, steps))


@router.get("/status", response_model=Health, responses=ERRORS)
def status(request: Request) -> dict[str, Any]:
    """Daemons, queued and running runs, the most overdue schedule, problems: as `clockwf
    status --format json` (ok false where it exits 1)."""
    from clockwf.monitor import health

    return health(store_for(request), web(request).now(), overdue_after=OVERDUE_AFTER,
                  stale_after=STALE_AFTER).as_json()


# -- writes --------------------------------------------------------------------------------------

YAML_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": {
    "application/yaml": {"schema": {"type": "string", "maxLength": 1 << 20}},
    "text/plain": {"schema": {"type": "string", "maxLength": 1 << 20}}}}}


@router.post("/workflows", response_model=PublishedDoc, responses=ERRORS,
             openapi_extra=YAML_BODY)
async def publish(request: Request) -> dict[str, Any]:
    """Publish one definition (the YAML file's text as the body); scope admin. A definition
    that does not validate gives 422 with the diagnostics (line, column, field, message)."""
    from starlette.concurrency import run_in_threadpool

    store = await run_in_threadpool(store_for, request, "admin")
    body = await request.body()
    if len(body) > 1 << 20:
        raise InvalidInput("the definition is larger than 1 MiB")
    return await run_in_threadpool(_publish, store, body, web(request).now())


def _publish(store: Any, body: bytes, now: datetime) -> dict[str, Any]:
    from clockwf.validate import validate_source

    report = validate_source(body, "<request>", now, for_publish=True)
    if not report.ok and not all(e is report.past_run_at for e in report.errors):
        raise DefinitionInvalid(report.errors)
    return documents.published(lifecycle.publish(store, [report], now))


@router.post("/workflows/{workflow_id}/runs", response_model=Started, status_code=201,
             responses=ERRORS)
def start_run(request: Request, workflow_id: str,
              body: Annotated[StartBody | None, Body()] = None) -> dict[str, Any]:
    """Start a run by hand (also when paused), as `clockwf run`; scope operate."""
    store = store_for(request, "operate")
    body = body or StartBody()
    started = runs.start_manual(store, workflow_id, web(request).now(), payload=body.payload,
                                key=body.key)
    return documents.started(started)


@router.post("/workflows/{workflow_id}/pause", response_model=StateChange, responses=ERRORS)
def pause(request: Request, workflow_id: str,
          body: Annotated[PauseBody | None, Body()] = None) -> dict[str, Any]:
    """Stop the workflow's trigger, as `clockwf pause`; scope operate."""
    store = store_for(request, "operate")
    change = lifecycle.pause(store, workflow_id, web(request).now(),
                             body.note if body else None)
    return documents.state_change(change)


@router.post("/workflows/{workflow_id}/resume", response_model=StateChange, responses=ERRORS)
def resume(request: Request, workflow_id: str) -> dict[str, Any]:
    """Re-enable the trigger from now, as `clockwf resume`; scope operate."""
    store = store_for(request, "operate")
    return documents.state_change(lifecycle.resume(store, workflow_id, web(request).now()))


@router.post("/workflows/{workflow_id}/backfill", response_model=Backfill, responses=ERRORS)
def backfill(request: Request, workflow_id: str, body: BackfillBody) -> dict[str, Any]:
    """Launch every occurrence in a range that has no run yet, as `clockwf backfill`: a dry
    run unless dry_run is false; scope operate."""
    store = store_for(request, "operate")
    zone = _zone(request, workflow_id)
    report = runs.backfill(store, workflow_id, _instant(body.from_, "from", zone),
                           _instant(body.to, "to", zone), web(request).now(),
                           dry_run=body.dry_run)
    return report.as_json()


@router.post("/runs/{run_id}/cancel", response_model=Cancelled, responses=ERRORS)
def cancel(request: Request, run_id: Annotated[int, Path(ge=1, le=2**62)]
           ) -> dict[str, Any]:
    """Cancel a queued or running run, as `clockwf runs cancel`; scope operate."""
    store = store_for(request, "operate")
    return documents.cancelled(runs.cancel_runs(store, [run_id], web(request).now()))


@router.post("/events/{name}", response_model=Emitted, status_code=201, responses=ERRORS)
def emit(request: Request, name: str,
         body: Annotated[StartBody | None, Body()] = None) -> dict[str, Any]:
    """Emit an event: one run per published, unpaused workflow on it, as `clockwf emit`; the
    key is the event id. Scope operate."""
    store = store_for(request, "operate")
    body = body or StartBody()
    started = runs.emit(store, name, web(request).now(), payload=body.payload,
                        event_id=body.key)
    return documents.emitted(name, started)
