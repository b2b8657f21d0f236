"""Alerts: who is told when a workflow fails, falls silent or runs long, and how.

- :mod:`clockwf.notify.body`: the ``clockwf.Notification.v1`` document every target receives.
- :mod:`clockwf.notify.outbox`: decides which events a state change causes and writes them,
  in the transaction of that change (the outbox), with one delivery row per target.
- :mod:`clockwf.notify.deliver`: sends pending deliveries in the background, at least once,
  with retries and backoff; records the ones that fail.
- :mod:`clockwf.notify.targets`: webhook, command and Apprise targets.
- :mod:`clockwf.notify.metrics`: Prometheus metrics.
"""
