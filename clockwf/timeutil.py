"""Small, pure time helpers: durations, zone lookup, ISO 8601 parsing and formatting.

Nothing here reads the clock.
"""

from __future__ import annotations

import functools
import re
import zoneinfo
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import overload

from clockwf.errors import DurationError, InvalidInput, TimezoneError

# ASCII digits only: \d would also take other scripts' digits ("١٠s").
_DURATION_RE = re.compile(r"^(?:([0-9]+)d)?(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?$")
_UNIT_SECONDS = (86400, 3600, 60, 1)
DURATION_HELP = "a duration such as 90s, 10m, 1h30m or 2d (units d, h, m, s, largest first)"
# The longest duration taken anywhere (ten years): far beyond any sensible jitter, window or
# timeout, and small enough that instant arithmetic never overflows and every store column
# (PostgreSQL INTEGER seconds) holds it.
MAX_DURATION = timedelta(days=3650)


def parse_duration(text: str | int) -> timedelta:
    """Parse ``90s``, ``10m``, ``1h30m``, ``2d``; the integer 0 (or ``"0"``) means no time."""
    if isinstance(text, bool):
        raise DurationError(f"expected {DURATION_HELP}, got {text!r}")
    if isinstance(text, int):
        if text == 0:
            return timedelta(0)
        raise DurationError(f"write durations with a unit: {text}s, not {text} ({DURATION_HELP})")
    s = text.strip()
    if s == "0":
        return timedelta(0)
    m = _DURATION_RE.match(s)
    if not s or m is None or not any(m.groups()):
        raise DurationError(f"expected {DURATION_HELP}, got {text!r}")
    too_long = DurationError(f"{text!r} is longer than {MAX_DURATION.days}d (ten years), the "
                             "longest duration clockwf takes")
    if any(g is not None and len(g) > 12 for g in m.groups()):
        raise too_long  # before int(): thousands of digits would be slow or refused
    seconds = sum(int(g) * u for g, u in zip(m.groups(), _UNIT_SECONDS, strict=True) if g)
    if seconds > MAX_DURATION.total_seconds():
        raise too_long
    return timedelta(seconds=seconds)


def format_duration(value: timedelta | float) -> str:
    """The inverse of :func:`parse_duration` for whole seconds: ``5400`` -> ``1h30m``."""
    seconds = int(value.total_seconds() if isinstance(value, timedelta) else value)
    if seconds == 0:
        return "0s"
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    out = []
    for unit, size in zip("dhms", _UNIT_SECONDS, strict=True):
        if seconds >= size:
            out.append(f"{seconds // size}{unit}")
            seconds %= size
    return sign + "".join(out)


def humanize_delta(delta: timedelta) -> str:
    """``in 3h 12m`` / ``5m ago``: for tables, at most two units."""
    seconds = int(delta.total_seconds())
    past = seconds < 0
    seconds = abs(seconds)
    parts: list[str] = []
    for unit, size in zip("dhms", _UNIT_SECONDS, strict=True):
        if seconds >= size or (unit == "s" and not parts):
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
        if len(parts) == 2:
            break
    text = " ".join(parts)
    return f"{text} ago" if past else f"in {text}"


# Files of a tz database that zoneinfo opens but that name no place: the host's zone, zic's
# defaults, a placeholder.
_NOT_ZONES = frozenset({"localtime", "posixrules", "Factory", "leapseconds", "zone.tab",
                        "zone1970.tab", "iso3166.tab", "tzdata.zi"})


@functools.lru_cache(maxsize=1024)
def get_zone(name: str) -> zoneinfo.ZoneInfo:
    """The IANA zone ``name``; raises :class:`TimezoneError` with a clear message."""
    if not isinstance(name, str) or not name or name != name.strip():
        raise TimezoneError(f"{name!r} is not an IANA time zone name (for example Europe/Berlin)")
    if name in _NOT_ZONES or name.startswith(("posix/", "right/")):
        raise TimezoneError(
            f"{name!r} is a file of the tz database, not a zone to schedule in: "
            + ("it means whatever zone the host is set to; name that zone instead"
               if name == "localtime" else
               "right/ zones count leap seconds; use the name without the prefix"
               if name.startswith("right/") else
               "use an IANA name such as America/New_York, Europe/Berlin or UTC"
               if not name.startswith("posix/") else
               f"use {name.removeprefix('posix/')}"))
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, IsADirectoryError, OSError):
        hint = _zone_hint(name)
        raise TimezoneError(
            f"unknown time zone {name!r}: use an IANA name such as America/New_York, "
            f"Europe/Berlin or UTC{hint}"
        ) from None


_OFFSET_ZONE_RE = re.compile(r"^UTC([+-])(\d\d):(\d\d)$")


def offset_zone_name(offset: timedelta) -> str:
    """``UTC``, ``UTC-05:00``, ``UTC+05:30``: the zone of a one-time schedule given only with an
    offset (it has no IANA zone, and its local time keeps that offset)."""
    seconds = int(offset.total_seconds())
    if seconds == 0:
        return "UTC"
    sign = "-" if seconds < 0 else "+"
    hours, rest = divmod(abs(seconds), 3600)
    return f"UTC{sign}{hours:02d}:{rest // 60:02d}"


def zone_or_offset(name: str) -> tzinfo:
    """The zone a schedule shows its local times in: an IANA zone, or the fixed offset named by
    :func:`offset_zone_name`."""
    m = _OFFSET_ZONE_RE.match(name)
    if m is None:
        return get_zone(name)
    offset = timedelta(hours=int(m.group(2)), minutes=int(m.group(3)))
    return timezone(-offset if m.group(1) == "-" else offset, name)


def _zone_hint(name: str) -> str:
    import difflib

    try:
        names = zoneinfo.available_timezones()
    except (OSError, ValueError):  # pragma: no cover - an unreadable tz database: no hint
        return ""
    close = difflib.get_close_matches(name, sorted(names), n=1, cutoff=0.6)
    if not close:
        lowered = {n.lower(): n for n in names}
        if name.lower() in lowered:
            close = [lowered[name.lower()]]
    return f" (did you mean {close[0]}?)" if close else ""


def parse_instant(text: str, *, default_tz: tzinfo | None = UTC, what: str = "time") -> datetime:
    """Parse an ISO 8601 instant. ``Z`` and offsets are honoured; a naive time is read in
    ``default_tz`` (refused when it is ``None``). A naive local time that does not exist or
    exists twice in ``default_tz`` is refused, since it does not name one instant."""
    s = text.strip()
    try:
        dt = datetime.fromisoformat(s)
    except ValueError:
        raise InvalidInput(
            f"{what} {text!r} is not an ISO 8601 date-time such as 2027-03-14T02:30:00-05:00 "
            "or 2027-03-14T07:30:00Z"
        ) from None
    if dt.tzinfo is None:
        if default_tz is None:
            raise InvalidInput(
                f"{what} {text!r} has no UTC offset: add one (2027-03-14T02:30:00-05:00, ...Z)"
            )
        dt = localize(dt, default_tz, what=what)
    return dt


def localize(naive: datetime, tz: tzinfo, *, what: str = "time") -> datetime:
    """Attach ``tz`` to a naive wall time, refusing one that does not exist or exists twice."""
    if tz is UTC:
        return naive.replace(tzinfo=UTC)
    first = naive.replace(tzinfo=tz, fold=0)
    second = naive.replace(tzinfo=tz, fold=1)
    off0, off1 = first.utcoffset(), second.utcoffset()
    if off0 == off1:
        return first
    round_trip = first.astimezone(UTC).astimezone(tz).replace(tzinfo=None)
    zone = getattr(tz, "key", str(tz))
    if round_trip != naive:
        raise InvalidInput(
            f"{what} {naive.isoformat()} does not exist in {zone} (the clocks skip it at a DST "
            "change): give an offset or a time outside the gap"
        )
    raise InvalidInput(
        f"{what} {naive.isoformat()} happens twice in {zone} (the clocks repeat it at a DST "
        f"change): add the offset, {first.isoformat()} or {second.isoformat()}"
    )


def iso(dt: datetime | None) -> str | None:
    """ISO 8601 with offset, seconds precision unless sub-second parts exist."""
    if dt is None:
        return None
    if dt.tzinfo is None:
        raise ValueError("naive datetime")
    return dt.isoformat(timespec="microseconds" if dt.microsecond else "seconds")


# iso_shared's cache: id(datetime) -> (that datetime, its text). The entry holds the datetime,
# so its id cannot be reused by another object while the entry exists.
_SHARED_ISO: dict[int, tuple[datetime, str]] = {}
_SHARED_ISO_SIZE = 4096


def iso_shared(dt: datetime) -> str:
    """:func:`iso` of an aware datetime, cached by identity: for the instants the cron engine
    memoises and hands to every schedule that fires at them (a tick formats the same object
    for thousands of runs). By identity because equal aware datetimes in different zones (or
    folds) format differently."""
    hit = _SHARED_ISO.get(id(dt))
    if hit is not None and hit[0] is dt:
        return hit[1]
    text = iso(dt)
    assert text is not None
    if len(_SHARED_ISO) >= _SHARED_ISO_SIZE:
        _SHARED_ISO.clear()
    _SHARED_ISO[id(dt)] = (dt, text)
    return text


@overload
def iso_utc(dt: datetime) -> str: ...
@overload
def iso_utc(dt: None) -> None: ...
@overload
def iso_utc(dt: datetime | None) -> str | None: ...


def iso_utc(dt: datetime | None) -> str | None:
    """``2027-03-14T07:00:00Z`` form of an instant."""
    if dt is None:
        return None
    return _iso_utc(dt.astimezone(UTC))


def fire_key_instant(dt: datetime) -> str:
    """The instant part of a fire key: UTC, whole seconds, ``YYYY-MM-DDTHH:MM:SSZ``."""
    return _fire_key_instant(dt.astimezone(UTC))


# Cached: a tick formats the same few instants (its ``now``, the minute most schedules fire at)
# for every run it launches. Only UTC datetimes are keys: two datetimes in the same zone that
# differ only in ``fold`` (the two passes of a repeated hour) compare and hash equal.

@functools.lru_cache(maxsize=4096)
def _iso_utc(u: datetime) -> str:
    text = u.isoformat(timespec="microseconds" if u.microsecond else "seconds")
    return text.replace("+00:00", "Z")


@functools.lru_cache(maxsize=4096)
def _fire_key_instant(u: datetime) -> str:
    return u.strftime("%Y-%m-%dT%H:%M:%SZ")


def utc(dt: datetime) -> datetime:
    if dt.tzinfo is None:
        raise ValueError("naive datetime")
    return dt.astimezone(UTC)
