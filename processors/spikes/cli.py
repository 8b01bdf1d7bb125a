"""Spike CLI: consumes command-line options, produces `backtest series` (the detector over NAB-format CSV series)."""
from __future__ import annotations

import logging
from pathlib import Path

import typer

logger = logging.getLogger(__name__)

def register(backtest_app: typer.Typer) -> None:
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
