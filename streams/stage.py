"""The stage contract: consumes nothing, produces StageContext, what every stage's `register(ctx)` receives from the
composition root (settings, metrics, the Faust app and the topic objects)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import faust

from streams.acks import HandledAcks
from streams.config import Settings
from streams.metrics import Metrics


@dataclass
class StageContext:
    settings: Settings
    metrics: Metrics
    app: faust.App
    raw: Any
    enriched: Any
    counts: Any
    deadletter: Any
    alerts: Any
    incidents: Any = None     # the incidents topic (None: the spikes stage opens it itself)
    lanes: Any = None         # news.lanes: detector lanes' outcomes for the incident grouper (several lanes only)
    acks: HandledAcks = field(default_factory=HandledAcks)   # agents ack through it: only handled offsets commit
    # blocking preparations a worker runs before it joins the consumer group (a stage's models), so that it takes
    # partitions only once it can handle them
    warmups: list[Callable[[], Any]] = field(default_factory=list)
