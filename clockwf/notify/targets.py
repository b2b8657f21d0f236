"""Sending one notification to one target: a webhook, a shell command, or an Apprise URL.

``${env:NAME}`` references in a target are resolved here, at send time, from the sending
process's environment; their values are masked in every message that leaves (errors, logs).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass

from clockwf.models import NotifyTarget
from clockwf.steps import MissingVariable, Secrets, resolve_refs
from clockwf.steps.env import step_environment

log = logging.getLogger("clockwf.notify")

COMMAND_OUTPUT_LIMIT = 2000


@dataclass(frozen=True)
class Sent:
    ok: bool
    detail: str          # "HTTP 200", "exit 0"; or why it failed (secrets masked)


def http_post(url: str, headers: Mapping[str, str], body: bytes, timeout: float,
              environ: Mapping[str, str], where: str) -> Sent:
    """POST ``body``; a 2xx answer is a success. The one place notifications use the HTTP step
    machinery (``${env:}`` resolved now and masked, TLS verification, the timeout, the redirect
    rule)."""
    from clockwf.steps import SUCCEEDED, send_http

    outcome = send_http("POST", url, headers=headers, body=body, timeout=timeout,
                        environ=environ, where=where, output_limit=COMMAND_OUTPUT_LIMIT)
    if outcome.status == SUCCEEDED:
        return Sent(True, f"HTTP {outcome.http_status}")
    return Sent(False, outcome.error or f"HTTP {outcome.http_status}")


def send(target_text: str, label: str, body: bytes, notification_id: str, summary: str,
         environ: Mapping[str, str] | None = None) -> Sent:
    """Send ``body`` (the notification JSON) to the stored target; never raises."""
    environ = os.environ if environ is None else environ
    target = NotifyTarget.model_validate(json.loads(target_text))
    secrets = Secrets()
    try:
        if target.webhook is not None:
            hook = target.webhook
            headers = {"Content-Type": "application/json", **hook.headers,
                       "Idempotency-Key": notification_id}
            return http_post(hook.url, headers, body, hook.timeout.total_seconds(), environ,
                             "notify.webhook")
        if target.command is not None:
            return _command(target, body, notification_id, environ, secrets)
        return _apprise(target, body, summary, environ, secrets)
    except MissingVariable as exc:
        return Sent(False, exc.message)
    except Exception as exc:   # a target must never take the delivery loop down
        message = secrets.redact(f"{label}: {type(exc).__name__}: {exc}")
        log.error("notify target failed unexpectedly: %s", message,   # no traceback: secrets
                  extra={"action": "notify.target_error", "target": label})
        return Sent(False, message)


def _command(target: NotifyTarget, body: bytes, notification_id: str,
             environ: Mapping[str, str], secrets: Secrets) -> Sent:
    command = target.command
    assert command is not None
    if isinstance(command, str):
        run, timeout, declared = command, 30.0, {}
    else:
        run, timeout, declared = command.run, command.timeout.total_seconds(), command.env
    # The environment a run step gets (docs/design.md §8.3), never the daemon's own: its store
    # URL and PG* variables stay out of a notification command as they stay out of a step.
    env = step_environment(declared, {"CLOCKWF_NOTIFICATION_ID": notification_id},
                           environ=environ, inherit=False, secrets=secrets,
                           where="notify command")
    proc = subprocess.Popen(["/bin/sh", "-c", run], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                            start_new_session=True)
    try:
        output, _ = proc.communicate(body, timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.communicate()
        return Sent(False, f"the command did not finish within {timeout:g}s")
    if proc.returncode == 0:
        return Sent(True, "exit 0")
    tail = secrets.redact(output.decode("utf-8", "replace")[-COMMAND_OUTPUT_LIMIT:]).strip()
    return Sent(False, f"the command exited {proc.returncode}" + (f": {tail}" if tail else ""))


def _apprise(target: NotifyTarget, body: bytes, summary: str, environ: Mapping[str, str],
             secrets: Secrets) -> Sent:
    assert target.apprise is not None
    try:
        import apprise
    except ImportError:
        return Sent(False, "apprise targets need the Apprise library, which is not installed: "
                           "pip install 'clockwf[notify]'")
    # Apprise logs what it sends to, URL included: keep its chatter (and credentials) out of
    # clockwf's log; failures are reported by clockwf itself, masked.
    logging.getLogger("apprise").setLevel(logging.CRITICAL)
    url = resolve_refs(target.apprise, "notify apprise", environ, secrets)
    secrets.add(url)   # an Apprise URL carries its credentials
    sender = apprise.Apprise()
    if not sender.add(url):
        return Sent(False, "not a URL Apprise knows (see the Apprise wiki for its schemes)")
    if sender.notify(title=summary[:250], body=body.decode()):
        return Sent(True, "sent")
    return Sent(False, "Apprise could not deliver it (the service refused or did not answer)")
