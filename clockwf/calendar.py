"""Business calendars: public holidays (the ``holidays`` package) and explicit excluded dates.

A recurring trigger with a calendar does not fire on an excluded local date: it is skipped, or
moved to the same local time on the nearest business day (a weekday, Monday to Friday, that is
not excluded) after or before it. ``holidays`` is imported here only, and only when a calendar is
used, so that validating a cron definition does not pay for it.
"""

from __future__ import annotations

import functools
from datetime import date, timedelta
from typing import Any

# The farthest a moved occurrence travels; a longer run of excluded days skips it instead.
MAX_MOVE_DAYS = 14


def _holidays_module() -> Any:
    import holidays

    return holidays


def check_holidays(country: str, subdiv: str | None,
                   language: str | None) -> tuple[str, tuple[str, ...]] | None:
    """None when the holidays package knows the country (and subdivision, language); else
    (message, field) for the definition's diagnostics."""
    mod = _holidays_module()
    supported: dict[str, list[str]] = mod.list_supported_countries()
    if country not in supported:
        import difflib

        close = difflib.get_close_matches(country.upper(), list(supported), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return (f"{country!r} is not a country the holidays package knows (ISO 3166-1 "
                f"alpha-2 codes such as DE, US, AU){hint}", ("country",))
    if subdiv is not None and subdiv not in supported[country]:
        listed = ", ".join(supported[country][:40])
        return (f"{subdiv!r} is not a subdivision of {country}; valid: {listed}",
                ("subdiv",))
    if language is not None:
        langs = mod.country_holidays(country).supported_languages
        if language not in langs:
            return (f"{language!r} is not a language of {country}'s holiday names; valid: "
                    f"{', '.join(langs)}", ("language",))
    return None


def holiday_years(country: str) -> tuple[int, int]:
    """The first and last year the holidays data of ``country`` covers."""
    obj = _holidays_module().country_holidays(country)
    return int(getattr(obj, "start_year", 1)), int(getattr(obj, "end_year", 9999))


@functools.lru_cache(maxsize=256)
def _holidays_of(country: str, subdiv: str | None, language: str | None,
                 year: int) -> dict[date, str]:
    mod = _holidays_module()
    lang = language or mod.country_holidays(country).default_language
    table = mod.country_holidays(country, subdiv=subdiv, years=[year], language=lang)
    return {day: str(name) for day, name in table.items()}


class BusinessCalendar:
    """Which local dates are excluded (and why), and the nearest business day of a date."""

    def __init__(self, spec: dict[str, Any]) -> None:
        source = spec.get("holidays") or None
        self.country: str | None = source["country"] if source else None
        self.subdiv: str | None = source.get("subdiv") if source else None
        self.language: str | None = source.get("language") if source else None
        self.exclude = {date.fromisoformat(d) for d in spec.get("exclude_dates") or ()}
        self.on_excluded: str = spec.get("on_excluded") or "skip"

    def reason(self, day: date) -> str | None:
        """Why ``day`` is excluded (the holiday's name, or "excluded date"), else None."""
        if self.country is not None:
            name = _holidays_of(self.country, self.subdiv, self.language, day.year).get(day)
            if name is not None:
                return name
        if day in self.exclude:
            return "excluded date"
        return None

    def business(self, day: date) -> bool:
        return day.weekday() < 5 and self.reason(day) is None

    def target(self, day: date) -> date | None:
        """The business day an occurrence on the excluded ``day`` moves to (None: skip)."""
        if self.on_excluded == "skip":
            return None
        step = timedelta(days=1 if self.on_excluded == "next_business_day" else -1)
        probe = day
        for _ in range(MAX_MOVE_DAYS):
            probe += step
            if self.business(probe):
                return probe
        return None

    def excluded_between(self, first: date, last: date) -> list[date]:
        """The excluded dates in [first, last]."""
        out = []
        day = first
        while day <= last:
            if self.reason(day) is not None:
                out.append(day)
            day += timedelta(days=1)
        return out
