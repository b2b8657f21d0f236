"""Trigger blocks (YAML, unindented) that tests of more than one tier write: the unit tests plan
them, the integration tests publish and tick them."""

from __future__ import annotations

import textwrap


def berlin_business_days(schedule: str, on_excluded: str = "next_business_day") -> str:
    """A recurring trigger in Europe/Berlin on ``schedule`` (its cron or rrule lines) whose
    occurrences on a German public holiday go by ``on_excluded``."""
    return ("type: recurring\ntimezone: Europe/Berlin\n" + textwrap.dedent(schedule).strip()
            + f"\ncalendar:\n  holidays: {{country: DE}}\n  on_excluded: {on_excluded}\n")
