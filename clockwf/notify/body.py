"""The ``clockwf.Notification.v1`` document: the body every notify target receives."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

NOTIFICATION_SCHEMA = "clockwf.Notification.v1"
OUTPUT_TAIL_LIMIT = 2000    # characters of the last step attempt's output in a notification

Event = Literal["failed", "timed_out", "interrupted", "missed", "overdue", "slow",
                "auto_paused", "recovered", "succeeded", "test"]


class NotificationV1(BaseModel):
    """One notification. ``id`` is stable: a receiver drops the rare duplicate delivery by it
    (it is also sent as the ``Idempotency-Key`` header)."""

    model_config = ConfigDict(extra="forbid", title=NOTIFICATION_SCHEMA)

    schema_: Literal["clockwf.Notification.v1"] = Field("clockwf.Notification.v1", alias="schema")
    id: str = Field(description="Stable id of this notification (a UUID).")
    event: Event
    namespace: str
    workflow_id: str | None
    run_id: int | None = None
    fire_key: str | None = None
    status: str | None = Field(None, description="The run's status, for run events.")
    occurred_at: str = Field(description="When the state change happened, UTC ISO 8601.")
    summary: str = Field(description="One line for people.")
    streak: int | None = Field(None, description="Consecutive failed runs (failed, timed_out, "
                               "interrupted, auto_paused; recovered: the streak it ended).")
    count: int | None = Field(None, description="missed: occurrences not launched on time.")
    from_: str | None = Field(None, alias="from", description="missed: the first one.")
    to: str | None = Field(None, description="missed: the last one.")
    last_success_at: str | None = Field(None, description="The last successful run's end.")
    expected_within: str | None = Field(None, description="overdue, slow: the expectation.")
    reason: str | None = Field(None, description="auto_paused: the reason recorded.")
    error: str | None = Field(None, description="The run's error, masked.")
    output_tail: str | None = Field(None, description="The end of the last step attempt's "
                                    f"output, masked, at most {OUTPUT_TAIL_LIMIT} characters.")


def notification_schema() -> dict[str, Any]:
    """The JSON Schema of the notification body (``clockwf schema --notification``)."""
    schema = NotificationV1.model_json_schema(by_alias=True)
    schema["required"] = ["schema", *schema.get("required", [])]   # always sent
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": "https://clockwf.dev/schema/clockwf.Notification.v1.json", **schema}
