"""Spike CLI: consumes command-line options, produces `backtest series`, `backtest archive` and `eval spikes`."""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Optional

import typer

logger = logging.getLogger(__name__)

DEFAULT_SHARED = Path(__file__).resolve().parents[2].parent / "shared"


def register(app: typer.Typer, eval_app: typer.Typer, backtest_app: typer.Typer) -> None:
    """Add the spike commands to the surgewatch CLI."""

    @backtest_app.command("series")
    def backtest_series_cmd(
        data_dir: Path = typer.Argument(..., exists=True, file_okay=False, help="Folder of timestamp,value CSVs (NAB format)"),
        out: Path = typer.Option(..., "--out", help="Results folder (same relative paths, + anomaly_score)"),
    ) -> None:
        """Score every CSV series under DATA_DIR with the streaming series detector (NAB output format)."""
        from processors.spikes.backtest import backtest_series
        done = backtest_series(data_dir, out)
        typer.echo(f"scored {len(done)} series, {sum(done.values())} rows -> {out}")

    @backtest_app.command("archive")
    def backtest_archive_cmd(
        items: Path = typer.Argument(..., exists=True, dir_okay=False, help="NDJSON archive of NewsItems"),
        out: Path = typer.Option(..., "--out", help="Alerts NDJSON to write"),
        bucket_seconds: int = typer.Option(3600, "--bucket-seconds", min=60, help="Count bucket size"),
        allowed_lateness_seconds: int = typer.Option(6 * 3600, "--allowed-lateness-seconds", min=0),
        pretagged: bool = typer.Option(False, "--pretagged", help="Input is EnrichedItem NDJSON (skip tagging)"),
    ) -> None:
        """Tag and count an archive in event-time order; write every alert the live system would emit."""
        from processors.spikes.backtest import backtest_archive
        from streams.config import get_settings
        settings = get_settings()
        stats = backtest_archive(items, out, bucket_seconds=bucket_seconds,
                                 allowed_lateness_seconds=allowed_lateness_seconds, pretagged=pretagged,
                                 kibana_url=settings.kibana_url, news_index=f"{settings.index_prefix}-news")
        typer.echo(json.dumps(stats))

    @eval_app.command("spikes")
    def eval_spikes_cmd(
        shared_dir: Path = typer.Option(DEFAULT_SHARED, "--shared-dir", help="The shared data folder (../shared)"),
        results: Optional[Path] = typer.Option(None, "--results", help="Keep the NAB result CSVs here"),
        skip_huffpost: bool = typer.Option(False, "--skip-huffpost", help="Only the NAB evaluation"),
        tagging: str = typer.Option("auto", "--tagging", help="HuffPost tagging: auto | tagger | simple"),
        trials: int = typer.Option(6, "--trials", min=1, help="Injected surges in the HuffPost replay"),
        json_out: Optional[Path] = typer.Option(None, "--json", help="Write all numbers here"),
    ) -> None:
        """NAB realTweets (fixed 0.5 and swept, leave-one-out) and the HuffPost archive replay."""
        from processors.spikes.evaluate import SharedDataMissing, huffpost_eval, nab_eval, nab_summary
        try:
            nab = nab_eval(shared_dir, results)
        except SharedDataMissing as exc:
            typer.echo(f"skipped: shared data not found ({exc}); pass --shared-dir")
            return
        out = {"nab": nab_summary(nab), "leave_one_out": nab["leave_one_out"]}
        if not skip_huffpost:
            try:
                out["huffpost"] = huffpost_eval(shared_dir, tagging=tagging, trials=trials)
            except SharedDataMissing as exc:
                typer.echo(f"huffpost replay skipped: {exc}")
        typer.echo(json.dumps(out["nab"]))
        if json_out is not None:
            json_out.write_text(json.dumps(out, indent=2))
