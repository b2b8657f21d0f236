"""clockwf: time-triggered workflows with a DST-exact cron engine and an idempotent tick daemon.

Library entry points:

- :func:`clockwf.next_fires` -- the next fire instants of a cron expression in a zone (docs/design.md §2.2).
- :class:`clockwf.cron.CronSchedule` -- the same, with the per-schedule DST choice (docs/design.md §2.3).
"""

from clockwf.cron import CronSchedule, next_fires

__all__ = ["CronSchedule", "__version__", "next_fires"]
__version__ = "0.1.0"
