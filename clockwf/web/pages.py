"""The dashboard's pages: overview, workflows, one workflow's timeline, runs, one run; sign-in;
the operator's actions as form posts (each with the session's CSRF token).

Every page is a Jinja2 template with autoescaping: ids, payloads and outputs are text, never
markup. A page's changing part is also a template of its own (``*_live.html``), which
``static/app.js`` fetches again every few seconds (header ``X-Clockwf-Live: 1``) and swaps in,
so nothing reloads the whole page.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from clockwf import documents, lifecycle, runs, tokens
from clockwf.errors import ClockwfError, InvalidInput
from clockwf.timeutil import iso, iso_utc, parse_instant, zone_or_offset
from clockwf.tokens import Principal
from clockwf.web.app import (
    COOKIE,
    OVERDUE_AFTER,
    STALE_AFTER,
    Forbidden,
    Unauthenticated,
    check_csrf,
    principal,
    session_token,
    web,
)

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
STRIP = 12          # the last runs shown as a strip of colours
SPANS = {"6h": timedelta(hours=6), "24h": timedelta(hours=24), "7d": timedelta(days=7),
         "30d": timedelta(days=30)}


def _context(request: Request, **values: Any) -> dict[str, Any]:
    who = getattr(request.state, "principal", None)
    token = session_token(request)
    csrf = tokens.csrf_token(token) if token and getattr(request.state, "via_cookie", False) \
        else ""
    return {"request": request, "who": who, "csrf": csrf, "no_auth": web(request).no_auth,
            "path": request.url.path, **values}


def render(request: Request, name: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    """The page ``name``; its live part only when the page's script asks for it."""
    env = web(request).templates
    if request.headers.get("x-clockwf-live") == "1":
        name = name.replace(".html", "_live.html")
    html = env.get_template(name).render(_context(request, **values))
    return HTMLResponse(html, status_code=status_code)


def error_page(request: Request, exc: ClockwfError, code: int) -> HTMLResponse:
    if isinstance(exc, Unauthenticated):
        return render(request, "signin.html", 401, message=None, next=request.url.path)
    return render(request, "error.html", code, message=exc.message, code=code)


FormText = Annotated[str, Form(max_length=1 << 20)]


def _authorize(request: Request, needed: str, csrf: str) -> Principal:
    """The principal, allowed ``needed``, having sent the session's CSRF token. (The form
    handlers are plain functions: FastAPI parses the form, then runs them in its thread pool,
    so the store is never waited on in the event loop.)"""
    who = principal(request, needed)
    check_csrf(request, csrf)
    return who


def _local_pair(when: datetime | None, zone: str | None) -> dict[str, str] | None:
    if when is None:
        return None
    local = when.astimezone(zone_or_offset(zone or "UTC"))
    return {"local": f"{local:%Y-%m-%d %H:%M} {local.tzname()}",
            "utc": f"{when.astimezone(UTC):%Y-%m-%d %H:%M}Z"}


# -- sign-in -------------------------------------------------------------------------------------

@router.get("/signin")
def signin_page(request: Request) -> HTMLResponse:
    return render(request, "signin.html", message=None, next="/")


@router.post("/signin")
def signin(request: Request, token: FormText = "", next: FormText = "/") -> Response:
    token = token.strip()
    target = next or "/"
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        target = "/"   # only a path of this server: never another site (browsers read \ as /)
    w = web(request)
    found = tokens.authenticate(w.store(w.namespace), token) if token else None
    if found is None:
        return render(request, "signin.html", 401, message="that token is not valid",
                      next=target)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/",
                        secure=request.url.scheme == "https", max_age=12 * 3600)
    return response


@router.post("/signout")
def signout(request: Request, csrf: FormText = "") -> Response:
    _authorize(request, "read", csrf)
    response = RedirectResponse("/signin", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


# -- overview ------------------------------------------------------------------------------------

@router.get("/")
def overview(request: Request) -> HTMLResponse:
    from clockwf.monitor import health

    who = principal(request)
    w = web(request)
    store = w.store(who.namespace)
    now = w.now()
    report = health(store, now, overdue_after=OVERDUE_AFTER, stale_after=STALE_AFTER)
    with store.read() as tx:
        failing = tx.list_runs(status="failed", limit=10) + tx.list_runs(
            status="timed_out", limit=10) + tx.list_runs(status="interrupted", limit=10)
        overdue = tx.overdue_schedules(now, 10)
        active = tx.list_runs(status="running", limit=20) + tx.list_runs(status="queued",
                                                                          limit=20)
    failing.sort(key=lambda r: r["run_id"], reverse=True)
    return render(request, "overview.html", health=report.as_json(), now=iso_utc(now),
                  failing=[runs.run_json(r) for r in failing[:10]],
                  overdue=[{"workflow_id": r["workflow_id"],
                            "due": iso_utc(r["next_fire_at"]),
                            "late": int((now - r["next_fire_at"]).total_seconds())}
                           for r in overdue],
                  active=[runs.run_json(r) for r in active])


# -- workflows -----------------------------------------------------------------------------------

@router.get("/workflows")
def workflows(request: Request, q: str = "", trigger: str = "", status: str = "",
              page: int = 1) -> HTMLResponse:
    from clockwf.cli.workflows import trigger_label

    who = principal(request)
    w = web(request)
    store = w.store(who.namespace)
    page = max(1, min(page, 1_000_000))
    rows, total = lifecycle.page_workflows(
        store, trigger=trigger or None, status=status or None, search=q.strip() or None,
        limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    with store.read() as tx:
        recent = tx.recent_runs_of([row["workflow_id"] for row in rows], STRIP)
    strips: dict[str, list[dict[str, Any]]] = {}
    for run in recent:
        strips.setdefault(run["workflow_id"], []).append({"run_id": run["run_id"],
                                                          "status": run["status"]})
    items = []
    for row in rows:
        doc = documents.workflow_row(row)
        doc.update(label=trigger_label(row),
                   next=_local_pair(documents.next_fire(row), row.get("timezone")),
                   strip=strips.get(row["workflow_id"], []))
        items.append(doc)
    pages = max(1, -(-total // PAGE_SIZE))

    def link(to: int) -> str:
        query = {k: v for k, v in (("q", q), ("trigger", trigger), ("status", status)) if v}
        return "/workflows?" + urlencode({**query, "page": to})

    return render(request, "workflows.html", items=items, total=total, page=page, pages=pages,
                  q=q, trigger=trigger, status=status,
                  prev=link(page - 1) if page > 1 else None,
                  next=link(page + 1) if page < pages else None,
                  triggers=lifecycle.LIST_TRIGGERS, statuses=lifecycle.LIST_STATUSES)


def _span(request: Request, zone: Any, now: datetime, span: str, start: str,
          end: str) -> tuple[datetime, datetime]:
    if start or end:
        t0 = parse_instant(start, default_tz=zone, what="from") if start else now - \
            timedelta(hours=24)
        t1 = parse_instant(end, default_tz=zone, what="to") if end else now + timedelta(hours=6)
        return t0, t1
    width = SPANS.get(span, SPANS["24h"])
    now = now.replace(microsecond=0)
    return now - width, now + width / 4


@router.get("/workflows/{workflow_id}")
def workflow(request: Request, workflow_id: str, span: str = "24h", start: str = "",
             end: str = "") -> HTMLResponse:
    from clockwf.web.timeline import timeline

    who = principal(request)
    w = web(request)
    store = w.store(who.namespace)
    now = w.now()
    detail = lifecycle.show(store, workflow_id)
    doc = documents.workflow_detail(detail)
    zone_name = detail.schedule["timezone"] if detail.schedule else "UTC"
    zone = zone_or_offset(zone_name)
    t0, t1 = _span(request, zone, now, span, start, end)
    line = timeline(store, workflow_id, t0, t1, now)
    width = (t1 - t0).total_seconds()

    def pos(text: str | None) -> float:
        if not text:
            return 0.0
        at = datetime.fromisoformat(text)
        return round(max(0.0, min(100.0, (at - t0).total_seconds() / width * 100)), 3)

    for occ in line["occurrences"]:
        occ["x"] = pos(occ["utc"])
    for run in line["runs"]:
        run["x"] = pos(run["created_at"])
    for change in line["dst_changes"]:
        change["x"] = pos(change["at"])
    skipped = [o for o in line["occurrences"] if o["outcome"] == "skipped"]
    recent = runs.list_runs(store, workflow_id=workflow_id, limit=20)
    trigger = detail.definition.trigger_type
    local_now = now.astimezone(zone)
    return render(request, "workflow.html", wf=doc, line=line, skipped=skipped,
                  recent=[runs.run_json(r) for r in recent], span=span, spans=list(SPANS),
                  start=iso(t0.astimezone(zone)), end=iso(t1.astimezone(zone)),
                  now_x=pos(iso_utc(now)), zone=zone_name, trigger=trigger,
                  default_from=f"{local_now - timedelta(days=1):%Y-%m-%dT%H:%M}",
                  default_to=f"{local_now:%Y-%m-%dT%H:%M}")


@router.post("/workflows/{workflow_id}/run")
def run_now(request: Request, workflow_id: str, csrf: FormText = "", payload: FormText = "",
            key: FormText = "") -> Response:
    who = _authorize(request, "operate", csrf)
    w = web(request)
    text = payload.strip()
    try:
        data = json.loads(text) if text else None
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"the payload is not valid JSON: {exc.msg} at line {exc.lineno} "
                           f"column {exc.colno}") from None
    started = runs.start_manual(w.store(who.namespace), workflow_id, w.now(), payload=data,
                                key=key.strip() or None)
    run_id = started.run_id if started.run_id is not None else started.existing_run_id
    return RedirectResponse(f"/runs/{run_id}", status_code=303)


@router.post("/workflows/{workflow_id}/pause")
def pause(request: Request, workflow_id: str, csrf: FormText = "",
          note: FormText = "") -> Response:
    who = _authorize(request, "operate", csrf)
    w = web(request)
    lifecycle.pause(w.store(who.namespace), workflow_id, w.now(), note.strip() or None)
    return RedirectResponse(f"/workflows/{workflow_id}", status_code=303)


@router.post("/workflows/{workflow_id}/resume")
def resume(request: Request, workflow_id: str, csrf: FormText = "") -> Response:
    who = _authorize(request, "operate", csrf)
    w = web(request)
    lifecycle.resume(w.store(who.namespace), workflow_id, w.now())
    return RedirectResponse(f"/workflows/{workflow_id}", status_code=303)


@router.post("/workflows/{workflow_id}/backfill")
def backfill(request: Request, workflow_id: str, csrf: FormText = "",
             start: Annotated[str, Form(alias="from", max_length=64)] = "",
             end: Annotated[str, Form(alias="to", max_length=64)] = "",
             confirm: FormText = "") -> Response:
    """Without ``confirm``: a preview (a dry run) with a button to launch what it lists."""
    who = _authorize(request, "operate", csrf)
    w = web(request)
    store = w.store(who.namespace)
    with store.read() as tx:
        schedule = tx.get_schedule(workflow_id)
    zone = zone_or_offset(schedule["timezone"]) if schedule else UTC
    confirmed = confirm == "1"
    report = runs.backfill(store, workflow_id,
                           parse_instant(start, default_tz=zone, what="from"),
                           parse_instant(end, default_tz=zone, what="to"), w.now(),
                           dry_run=not confirmed)
    return render(request, "backfill.html", workflow_id=workflow_id, report=report.as_json(),
                  start=start, end=end, confirmed=confirmed)


# -- runs ----------------------------------------------------------------------------------------

@router.get("/runs")
def run_list(request: Request, workflow: str = "", status: str = "") -> HTMLResponse:
    who = principal(request)
    store = web(request).store(who.namespace)
    rows = runs.list_runs(store, workflow_id=workflow or None, status=status or None,
                          limit=100)
    return render(request, "runs.html", runs=[dict(runs.run_json(r),
                                                   provenance=runs.provenance_label(r))
                                              for r in rows],
                  workflow=workflow, status=status, statuses=runs.RUN_STATUSES)


@router.get("/runs/{run_id}")
def run_page(request: Request, run_id: int) -> HTMLResponse:
    who = principal(request)
    store = web(request).store(who.namespace)
    run, steps = runs.get_run(store, run_id)
    doc = documents.run_detail(run, steps)
    return render(request, "run.html", run=doc,
                  payload=json.dumps(doc["payload"], indent=2, ensure_ascii=False),
                  active=doc["status"] in ("queued", "running"))


@router.post("/runs/{run_id}/cancel")
def cancel(request: Request, run_id: int, csrf: FormText = "") -> Response:
    who = _authorize(request, "operate", csrf)
    w = web(request)
    runs.cancel_runs(w.store(who.namespace), [run_id], w.now())
    return RedirectResponse(f"/runs/{run_id}", status_code=303)


__all__ = ["Forbidden", "error_page", "router"]
