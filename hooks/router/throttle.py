"""When the router writes a model's demand annotation.

Every request to a model is demand, but writing `last-request-time` on every
request would turn traffic into API-server load and into a Metacontroller
sync per request. The rule, per model:

* the interval is `cooldown * demand_fraction` (default 10%), clamped to
  `[demand_min_interval_seconds, demand_max_interval_seconds]`;
* nothing is written while the newest request is not newer than what the
  cluster already has (`written`: the larger of the annotation the router
  observes and the value it last wrote itself);
* otherwise the write is due once the annotation is `interval` old and
  `interval` has passed since this router's own previous write: at most one
  write per interval from each router replica.

A request for a model at zero therefore writes at once: a model only scales
to zero once its annotation is a whole cooldown old, far older than one
interval. While the annotation is fresher than that, the hook already counts
the model as wanted, and writing again would tell it nothing new. The
annotation lags the true last request by less than one interval, and the
trailing write after a burst still lands, so scale-down happens between
`cooldown` and `cooldown + interval` after the last request.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from hooks.router.config import RouterConfig


def demand_interval(cooldown: timedelta, config: RouterConfig) -> timedelta:
    """How often a busy model's demand may be written."""
    seconds = cooldown.total_seconds() * config.demand_fraction
    seconds = max(config.demand_min_interval_seconds, seconds)
    seconds = min(config.demand_max_interval_seconds, seconds)
    return timedelta(seconds=seconds)


def due_at(
    *,
    pending: datetime | None,
    written: datetime | None,
    last_write_at: datetime | None,
    interval: timedelta,
) -> datetime | None:
    """When the pending demand should be written; None when there is nothing to write.

    A time at or before now means "now".
    """
    if pending is None or (written is not None and pending <= written):
        return None
    moments = [pending]
    if written is not None:
        moments.append(written + interval)
    if last_write_at is not None:
        moments.append(last_write_at + interval)
    return max(moments)
