"""`surgewatch alerts forward`: consumes command-line options and Settings, produces a running alert forwarder."""
from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import List, Optional

import typer
from aiokafka.errors import KafkaError

from streams.config import get_settings

from sinks.alerting.forwarder import run_forwarder
from sinks.alerting.http import DeliveryError
from sinks.alerting.mapping import Subscription

logger = logging.getLogger(__name__)


def register(alerts_app: typer.Typer) -> None:
    """Add `surgewatch alerts forward` to the alerts command group."""

    @alerts_app.command("forward")
    def forward(
        alertmanager_url: Optional[str] = typer.Option(None, "--alertmanager-url", envvar="SURGEWATCH_ALERTMANAGER_URL",
                                                       show_envvar=True,
                                                       help="Alertmanager base URL, e.g. http://alertmanager:9093"),
        webhook_url: Optional[str] = typer.Option(None, "--webhook-url", envvar="SURGEWATCH_WEBHOOK_URL",
                                                  show_envvar=True,
                                                  help="Generic webhook receiving alert JSON (a URL with a token in "
                                                       "it belongs in the environment, not in a process list)"),
        key_prefix: List[str] = typer.Option([], "--key-prefix",
                                             help="Forward only keys starting with this (repeatable)"),
        min_severity: str = typer.Option("low", "--min-severity", help="low | medium | high | critical"),
        from_beginning: bool = typer.Option(True, "--from-beginning/--from-latest",
                                            help="Where a group without committed offsets starts: the oldest "
                                                 "alert (default) or the newest; the start is committed at once"),
        group_id: Optional[str] = typer.Option(None, "--group-id",
                                               help="Consumer group (default: <app_id>-alert-forwarder)"),
        firing_ttl: float = typer.Option(3600.0, "--firing-ttl",
                                         help="Seconds a firing alert stays active without a re-post"),
        per_key: bool = typer.Option(False, "--per-key",
                                     help="Forward every alert of every key (the alerts topic) instead of one "
                                          "notification per incident (opened, escalated, resolved)"),
    ) -> None:
        """Forward spike incidents (or, --per-key, every alert) to Alertmanager (/api/v2/alerts) and/or a webhook;
        commit after delivery."""
        if not alertmanager_url and not webhook_url:
            raise typer.BadParameter("give --alertmanager-url and/or --webhook-url")
        try:
            subscription = Subscription(tuple(key_prefix), min_severity)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--min-severity") from exc
        settings = get_settings()
        kwargs = dict(subscription=subscription, alertmanager_url=alertmanager_url, webhook_url=webhook_url,
                      firing_ttl=timedelta(seconds=firing_ttl))
        default_group = f"{settings.app_id}-alert-forwarder" + ("" if per_key else "-incidents")
        try:
            asyncio.run(run_forwarder(settings, kwargs, group_id or default_group, from_beginning,
                                      incidents=not per_key))
        except KeyboardInterrupt:
            pass
        except DeliveryError as exc:
            logger.error("giving up after retries: %s (the undelivered alert stays uncommitted: a restart resumes "
                         "at it)", exc)
            raise typer.Exit(2) from exc
        except KafkaError as exc:
            typer.echo(f"error: cannot consume alerts from Kafka at {settings.kafka_servers} ({exc}); start the "
                       "local stack with `surgewatch stack up` or set SURGEWATCH_KAFKA_BOOTSTRAP", err=True)
            raise typer.Exit(2) from exc
