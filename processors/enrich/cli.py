"""Enrich CLI: consumes NDJSON files / text arguments, produces the `tag`, `explain` and `eval tagging` commands."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

err = Console(stderr=True)

DEFAULT_SHARED = Path("../shared")     # relative to the working directory, as `make eval-tagging` runs it


def _tag_file(in_path: Path, out_path: Optional[Path], spacy_model: str, taxonomy_dir: Optional[Path],
              batch_size: int) -> tuple[int, int]:
    from processors.enrich.dedup import StoryClusterer
    from processors.enrich.pipeline import build_enriched, parse_news_item
    from processors.enrich.tagging import Tagger
    from streams.records import InvalidItem

    tagger = Tagger.load(spacy_model=spacy_model, taxonomy_dir=taxonomy_dir)
    clusterer = StoryClusterer()
    out = open(out_path, "w", encoding="utf-8") if out_path else sys.stdout
    ok = bad = 0
    batch: list = []

    def flush() -> None:
        nonlocal ok
        if not batch:
            return
        results = tagger.tag_batch(batch)
        for item, res in zip(batch, results):
            story, keys = clusterer.assign(item.id or "", item.title, item.text)
            enriched = build_enriched(item, res, story, dup_keys=keys)
            out.write(json.dumps(json.loads(enriched.dumps()), ensure_ascii=False) + "\n")
            ok += 1
        batch.clear()

    try:
        with open(in_path, "rb") as fh:
            for lineno, raw in enumerate(fh, 1):
                if not raw.strip():
                    continue
                try:
                    batch.append(parse_news_item(raw))
                except InvalidItem as exc:
                    bad += 1
                    err.print(f"{in_path}:{lineno}: invalid item ({exc.reason}): {exc}")
                    continue
                if len(batch) >= batch_size:
                    flush()
        flush()
    finally:
        if out_path:
            out.close()
    return ok, bad


def explain_lines(rows: list) -> list:
    """Plain lines for a non-tty (a pipe, a log): one block per candidate, nothing squeezed into columns."""
    out = []
    for r in rows:
        what = "; ".join(r.get("names") or []) or r.get("id") or ", ".join(r.get("candidates") or []) or "-"
        score = f"  score {r['score']}" if r.get("score") not in (None, "") else ""
        out.append(f"{r['dimension']}: {r['decision'].upper()}  '{r['text']}'  ({r['field']} {r['start']}-{r['end']})"
                   f"{score}")
        out.append(f"    tag: {what}")
        out.append(f"    why: {r.get('why', '')}")
    return out


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    """Add `tag`, `explain` to the main app and `tagging` to the eval app."""

    @app.command("tag")
    def tag_cmd(
        in_path: Path = typer.Argument(..., exists=True, dir_okay=False, help="NewsItem NDJSON file"),
        out: Optional[Path] = typer.Option(None, "--out", "-o", help="EnrichedItem NDJSON output (default stdout)"),
        spacy_model: str = typer.Option("en_core_web_sm", help="spaCy English pipeline"),
        taxonomy_dir: Optional[Path] = typer.Option(None, help="override the bundled taxonomy folder"),
        batch_size: int = typer.Option(64, min=1),
    ) -> None:
        """Tag a NewsItem NDJSON file offline (no servers): one EnrichedItem JSON per line."""
        ok, bad = _tag_file(in_path, out, spacy_model, taxonomy_dir, batch_size)
        err.print(f"tagged {ok} item(s); {bad} invalid line(s)")

    @app.command("explain")
    def explain_cmd(
        text: str = typer.Argument(..., help="text to tag"),
        language: Optional[str] = typer.Option(None, "--language", "-l", help="ISO 639-1 code; detected when omitted"),
        title: str = typer.Option("", help="optional title"),
        taxonomy_dir: Optional[Path] = typer.Option(None),
        as_json: bool = typer.Option(False, "--json", help="print JSON instead of a table"),
    ) -> None:
        """Show every region/community/topic candidate, its evidence, and why it won or lost."""
        from processors.enrich.tagging import Tagger
        tagger = Tagger.load(taxonomy_dir=taxonomy_dir)
        rows = tagger.explain(text, language=language, title=title)
        if as_json:
            print(json.dumps(rows, ensure_ascii=False, indent=1))
            return
        if not sys.stdout.isatty():
            print(f"surgewatch explain (taxonomy {tagger.taxonomy_version})")
            for line in explain_lines(rows):
                print(line)
            return
        table = Table(title=f"surgewatch explain (taxonomy {tagger.taxonomy_version})")
        for col in ("dimension", "id", "matched", "field", "span", "decision", "score", "why"):
            table.add_column(col)
        for r in rows:
            decision = r["decision"]
            style = {"about": "bold green", "assigned": "green", "mentioned": "yellow",
                     "not proposed": "dim"}.get(decision, "red")
            table.add_row(r["dimension"], "; ".join(r.get("names") or []) or str(r.get("id") or
                          ", ".join(r.get("candidates", []))), r["text"],
                          r["field"], f"{r['start']}-{r['end']}", f"[{style}]{decision}[/{style}]",
                          f"{r.get('score', '')}", r.get("why", ""))
        Console().print(table)

    @eval_app.command("tagging")
    def eval_tagging(
        shared_dir: Path = typer.Option(DEFAULT_SHARED, "--shared-dir", help="folder holding corpora/"),
        limit: Optional[int] = typer.Option(None, "--limit", help="max Reuters docs (others scale down)"),
        json_out: Optional[Path] = typer.Option(None, "--json-out", help="also write the metrics as JSON"),
        skip_throughput: bool = typer.Option(False, "--skip-throughput"),
    ) -> None:
        """Evaluate tagging on Reuters-21578, NEREL, GeoWebNews/LGL/TR-News and measure throughput."""
        from processors.enrich.evaluate import print_report, run_all
        corpora = shared_dir / "corpora"
        if not corpora.is_dir():
            err.print(f"eval tagging: {corpora} not found; skipping (nothing evaluated)")
            raise typer.Exit(0)
        report = run_all(shared_dir, limit=limit, throughput=not skip_throughput)
        print_report(report)
        if json_out:
            json_out.write_text(json.dumps(report, indent=1, ensure_ascii=False), encoding="utf-8")
