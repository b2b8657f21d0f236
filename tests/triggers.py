"""Trigger blocks (YAML, unindented) that tests of more than one tier write: the unit tests plan
them, the integration tests publish and tick them."""

from __future__ import annotations

import textwrap
from datetime import datetime

from clockwf.schedule import ScheduleSpec
from clockwf.validate import validate_source


def berlin_business_days(schedule: str, on_excluded: str = "next_business_day") -> str:
    """A recurring trigger in Europe/Berlin on ``schedule`` (its cron or rrule lines) whose
    occurrences on a German public holiday go by ``on_excluded``."""
    return ("type: recurring\ntimezone: Europe/Berlin\n" + textwrap.dedent(schedule).strip()
            + f"\ncalendar:\n  holidays: {{country: DE}}\n  on_excluded: {on_excluded}\n")


def spec_of(trigger: str, now: datetime) -> ScheduleSpec:
    """The schedule spec of a workflow ``job`` with this trigger block, validated at ``now``."""
    text = "id: job\ntrigger:\n" + textwrap.indent(textwrap.dedent(trigger).strip(), "  ") + \
        "\nsteps:\n  - run: 'true'\n"
    report = validate_source(text, "job.yaml", now)
    assert report.ok, [str(e) for e in report.errors]
    assert report.definition is not None
    spec = ScheduleSpec.from_definition(report.definition)
    assert spec is not None
    return spec
