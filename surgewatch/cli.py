"""Command line: consumes arguments and Settings, produces the `surgewatch` commands (stack, setup, worker, ingest,
alerts, search, tag, explain, backtest, eval, demo, run)."""
from __future__ import annotations

import importlib
import json
import logging
import sys
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from streams.config import ConfigError, Settings, get_settings
from streams.validate import strip_controls
from surgewatch.stack.base import StackError, StackStatus

app = typer.Typer(help="surgewatch: streaming news tagging and spike alerts", no_args_is_help=True,
                  pretty_exceptions_enable=False)
stack_app = typer.Typer(help="Manage the local stack (noida-db, or real Kafka + Elasticsearch with --engine jvm)", no_args_is_help=True)
alerts_app = typer.Typer(help="Subscribe to alerts", no_args_is_help=True)
eval_app = typer.Typer(help="Quality evaluations on the data in ../shared", no_args_is_help=True)
backtest_app = typer.Typer(help="Run the spike detector offline (no servers)", no_args_is_help=True)
app.add_typer(stack_app, name="stack")
app.add_typer(alerts_app, name="alerts")
app.add_typer(eval_app, name="eval")
app.add_typer(backtest_app, name="backtest")
console = Console(stderr=True)
log = logging.getLogger(__name__)


def settings() -> Settings:
    try:
        return get_settings()
    except ConfigError as exc:
        console.print(f"[red]configuration error[/red]: {exc}")
        raise typer.Exit(2) from exc


def fail(msg: str, code: int = 1) -> None:
    from rich.markup import escape
    console.print(f"[red]error[/red]: {escape(msg)}", soft_wrap=True, highlight=False)
    raise typer.Exit(code)


EngineOpt = typer.Option(None, "--engine", help="noida or jvm (default: SURGEWATCH_STACK_ENGINE)")


def stack_settings(engine: Optional[str]) -> Settings:
    s = settings()
    if engine is None:
        return s
    if engine not in ("noida", "jvm"):
        fail(f"unknown engine {engine!r}: use --engine noida or --engine jvm", 2)
    return s.model_copy(update={"stack_engine": engine})


# StackError from any of these reaches main(), which prints it as one line


def _print_status(st: StackStatus) -> None:
    console.print(st.line(), markup=False, highlight=False, soft_wrap=True)


@stack_app.command("up")
def stack_up(engine: Optional[str] = EngineOpt) -> None:
    """Start the local stack (or check the external servers) and wait until healthy."""
    from surgewatch.stack import LocalStack
    _print_status(LocalStack(stack_settings(engine)).up())


@stack_app.command("fetch")
def stack_fetch(engine: Optional[str] = EngineOpt) -> None:
    """Download what the engine needs (jvm: Kafka jars, Elasticsearch node, analysis plugin) into the cache."""
    from surgewatch.stack import engine_for
    s = stack_settings(engine)
    eng = engine_for(s)
    if hasattr(eng, "fetch"):
        eng.fetch()
    console.print(f"engine={eng.name} ready in {s.stack_cache_dir}", markup=False, soft_wrap=True)


@stack_app.command("down")
def stack_down(engine: Optional[str] = EngineOpt) -> None:
    """Stop the local stack's servers that it started (data is kept under SURGEWATCH_STACK_DIR)."""
    from surgewatch.stack import LocalStack
    LocalStack(stack_settings(engine)).down()


@stack_app.command("status")
def stack_status(engine: Optional[str] = EngineOpt) -> None:
    """Show which engine runs, its versions and pids, and whether Kafka and Elasticsearch answer."""
    from surgewatch.stack import LocalStack
    st = LocalStack(stack_settings(engine)).status()
    _print_status(st)
    raise typer.Exit(0 if st.healthy else 1)


@app.command()
def setup() -> None:
    """Create topics, index templates, indices and aliases (idempotent)."""
    from sinks.elasticsearch import ensure_indices
    from streams.setup import ensure_topics
    s = settings()
    try:
        created = ensure_topics(s)
        indices = ensure_indices(s)
    except Exception as exc:  # noqa: BLE001 - report any server error in one line
        fail(f"setup failed against kafka {s.kafka_servers} / elasticsearch {s.elasticsearch_url_shown}: {exc}")
    console.print(f"topics created: {created or 'none (all exist)'}; indices: {indices}")


@app.command()
def worker() -> None:
    """Run a Faust worker with the stages in SURGEWATCH_STAGES; serves /metrics."""
    from surgewatch.worker import run_worker
    run_worker(settings())


@alerts_app.command("tail")
def alerts_tail(key_prefix: Optional[str] = typer.Option(None, help="Only keys starting with this, e.g. region:"),
                from_beginning: bool = typer.Option(False, help="Start at the oldest alert"),
                follow: bool = typer.Option(True, help="Keep waiting for new alerts"),
                as_json: bool = typer.Option(False, "--json", help="Print each notification as one JSON line"),
                per_key: bool = typer.Option(False, "--per-key", help="Every alert of every key (the alerts topic) "
                                             "instead of one notification per incident")) -> None:
    """Print one notification per incident as it opens, escalates or resolves (--per-key: every alert)."""
    from streams.subscribe import run_tail
    run_tail(settings(), key_prefix=key_prefix, from_beginning=from_beginning, follow=follow, as_json=as_json,
             per_key=per_key)


@app.command()
def search(query: str = typer.Argument("", help="Free text (matched, not parsed as query syntax)"),
           region: list[str] = typer.Option([], help="Region id, e.g. ru-ce or region:north-caucasus"),
           community: list[str] = typer.Option([], help="Community id, e.g. muslims"),
           topic: list[str] = typer.Option([], help="Topic id, e.g. protest"),
           since: Optional[str] = typer.Option(None, help="7d, 12h or an ISO 8601 time"),
           size: int = typer.Option(20, help="Hits to show")) -> None:
    """Search the indexed news."""
    from processors.index.query import build_search
    from sinks.elasticsearch import alias, es_client
    s = settings()
    try:
        body = build_search(query, region, community, topic, since, size=size)
    except ValueError as exc:
        fail(str(exc))
    resp = es_client(s).search(index=alias(s, "news"), **body)
    hits = resp["hits"]["hits"]
    table = Table("published", "title", "regions", "communities", "topics", "source")
    for h in hits:
        table.add_row(*search_row(h["_source"]))
    Console().print(table)
    console.print(f"{resp['hits']['total']['value']} matching")


def search_row(doc: dict) -> list[Text]:
    """One result row as plain text: stored titles never render as markup, and control characters are dropped."""
    values = (doc.get("published_at", ""), str(doc.get("title", ""))[:80], " ".join(doc.get("region_ids", [])[:4]),
              " ".join(doc.get("community_ids", [])[:3]), " ".join(doc.get("topic_ids", [])[:3]),
              doc.get("source") or "")
    return [Text(strip_controls(str(v))) for v in values]


@app.command()
def demo(stream: Optional[str] = typer.Option(None, help="NDJSON of NewsItems (default: the bundled sample)"),
         timeout: float = typer.Option(900, help="Give up after this many seconds")) -> None:
    """Bounded end-to-end run on a clean demo namespace; ends with one `DEMO SUMMARY {json}` line."""
    from surgewatch.runner import demo_settings, run_demo
    summary, ok = run_demo(demo_settings(settings()), stream, timeout)
    sys.stdout.write("DEMO SUMMARY " + json.dumps(summary, sort_keys=True) + "\n")
    raise typer.Exit(0 if ok else 1)


@app.command()
def run(stream: Optional[str] = typer.Option(None, help="NDJSON of NewsItems (default: the bundled sample)"),
        speedup: float = typer.Option(0, help="Replay speed (0 = as fast as possible)"),
        reset: bool = typer.Option(False, "--reset", help="Wipe this namespace's topics, indices, consumer group and "
                                   "detector state first (local stack only): a replay of the same stream alerts again")) -> None:
    """Start the stack and a worker, replay the stream, print alerts as they fire; Ctrl-C stops everything."""
    from surgewatch.runner import run_forever
    run_forever(settings(), stream, speedup, reset)


def _register(module: str, *apps: typer.Typer) -> None:
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise
        return
    mod.register(*apps)


_register("streams.sources.cli", app)
_register("sinks.alerting.cli", alerts_app)
_register("processors.enrich.cli", app, eval_app)
_register("processors.spikes.cli", backtest_app)
_register("surgewatch.offline", app, eval_app, backtest_app)


def main() -> None:
    level = "INFO"
    try:
        level = get_settings().log_level.upper()
    except ConfigError as exc:
        sys.stderr.write(f"configuration error: {exc}\n")
        sys.exit(2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("kafka", "aiokafka", "elastic_transport"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - a CLI error is one line; SURGEWATCH_LOG_LEVEL=DEBUG shows the traceback
        log.debug("command failed", exc_info=True)
        sys.stderr.write(f"error: {exc}\n" if isinstance(exc, (StackError, ConfigError))
                         else f"error: {type(exc).__name__}: {exc}\n")
        sys.exit(1)


if __name__ == "__main__":
    main()
