"""Ingest commands: consumes CLI arguments (files, feed URLs, a listen address), produces items on news.raw."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import List

import typer
from rich.console import Console

from streams.config import ConfigError, get_settings
from streams.metrics import default_metrics
from streams.sources.producer import RawProducer, SourceError

log = logging.getLogger(__name__)
console = Console(stderr=True)


def _producer() -> RawProducer:
    """The raw producer of an ingest command, with its metrics (items out, dead letters) served on
    SURGEWATCH_METRICS_PORT so Prometheus sees the producers too; a port already taken (a worker on the same host)
    only costs the endpoint, never the ingest."""
    try:
        settings = get_settings()
        metrics = default_metrics()
        producer = RawProducer(settings, metrics=metrics)
    except (SourceError, ConfigError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    try:
        metrics.serve(settings.metrics_port, settings.metrics_host)
    except OSError as exc:
        log.warning("metrics not served on %s:%s (%s)", settings.metrics_host, settings.metrics_port, exc)
    return producer


def ingest(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True,
                                help="NDJSON file of NewsItems (one JSON object a line; .gz accepted)"),
    speedup: float = typer.Option(0.0, "--speedup", min=0.0,
                                  help="Replay N× faster than real time between published_at gaps "
                                       "(0 = as fast as possible)"),
    max_sleep: float = typer.Option(5.0, "--max-sleep", min=0.0, help="Longest pause between two items (seconds)"),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar"),
) -> None:
    """Replay an NDJSON archive into news.raw in event-time order; invalid lines go raw (dead-lettered)."""
    from streams.sources.replay import replay

    producer = _producer()
    try:
        stats = replay(file, producer, speedup, max_sleep=max_sleep, progress=progress)
        producer.flush()
    except SourceError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    finally:
        producer.close()
    typer.echo(f"sent {stats.sent} items, {stats.invalid} invalid (sent raw for dead-lettering) to {producer.topic}")


def ingest_rss(
    urls: List[str] = typer.Argument(..., help="RSS/Atom feed URLs"),
    interval: float = typer.Option(300.0, "--interval", min=1.0, help="Seconds between polls"),
    once: bool = typer.Option(False, "--once", help="Poll every feed once and exit"),
) -> None:
    """Poll RSS/Atom feeds and produce new entries to news.raw (deduplicated within the run)."""
    from streams.sources.rss import check_feed_url, poll

    try:
        for url in urls:
            check_feed_url(url)
    except SourceError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    producer = _producer()
    try:
        stats = poll(urls, producer, interval, once=once, flush=producer.flush)
    except KeyboardInterrupt:
        stats = None
    except SourceError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    finally:
        producer.close()
    if stats is not None:
        typer.echo(f"sent {stats.sent} items ({stats.duplicates} already seen, {stats.invalid} invalid entries, "
                   f"{stats.fetch_errors} feed errors) to {producer.topic}")


def ingest_http(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind"),
    port: int = typer.Option(8088, "--port", help="Port to listen on"),
) -> None:
    """Serve POST /items (JSON object, JSON array or NDJSON) and GET /healthz; items go to news.raw.

    With SURGEWATCH_INGEST_TOKEN set, POST /items needs `Authorization: Bearer <token>`; without it, only a
    loopback address may be bound.
    """
    from streams.sources.http import IngestPolicy, check_bind, serve

    try:
        s = get_settings()
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    policy = IngestPolicy(token=s.ingest_token, max_body_bytes=s.ingest_max_body_bytes, max_items=s.ingest_max_items)
    try:
        check_bind(host, policy)
    except SourceError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    producer = _producer()
    auth = "bearer token required" if policy.has_token else "no token (loopback only)"
    console.print(f"ingest: http://{host}:{port}/items → {producer.topic} ({auth})", markup=False)
    try:
        serve(producer, host=host, port=port, flush=producer.flush, policy=policy)
    finally:
        producer.close()


def register(app: typer.Typer) -> None:
    """Add `ingest`, `ingest-rss` and `ingest-http` to the surgewatch CLI."""
    app.command("ingest")(ingest)
    app.command("ingest-rss")(ingest_rss)
    app.command("ingest-http")(ingest_http)
