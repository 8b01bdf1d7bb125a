"""Backtest tests: consumes small CSV series and a pretagged NDJSON archive, asserts the written outputs (no servers)."""
from __future__ import annotations

import csv
import json
import sys
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from spikes_streams import T0, by_time, stream, surge  # noqa: E402

from processors.spikes.backtest import backtest_series  # noqa: E402
from surgewatch.offline import backtest_archive  # noqa: E402
from streams.records import Alert  # noqa: E402


def test_backtest_series_writes_one_scored_row_per_input_row(tmp_path: Path) -> None:
    data = tmp_path / "data" / "cat"
    data.mkdir(parents=True)
    rows = [(f"2015-03-0{1 + i // 288} {(i % 288) // 12:02d}:{(i % 12) * 5:02d}:00", 40 + (i % 7)) for i in range(3 * 288)]
    with (data / "s.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["timestamp", "value"])
        w.writerows(rows)
    done = backtest_series(tmp_path / "data", tmp_path / "out")
    assert done == {"cat/s.csv": len(rows)}
    with (tmp_path / "out" / "cat" / "s.csv").open() as f:
        got = list(csv.DictReader(f))
    assert list(got[0].keys()) == ["timestamp", "value", "anomaly_score"]
    assert [(r["timestamp"], int(r["value"])) for r in got] == rows
    assert all(0.0 <= float(r["anomaly_score"]) <= 1.0 for r in got)


def test_backtest_archive_pretagged_writes_the_alerts(tmp_path: Path) -> None:
    items = by_time(stream(days=8, per_hour=20, seed=11) + surge(T0 + timedelta(days=7, hours=14), n=25, minutes=40))
    src = tmp_path / "items.jsonl"
    src.write_text("".join(it.dumps().decode() + "\n" for it in reversed(items)) + "not json\n")  # any order
    out = tmp_path / "alerts.jsonl"
    stats = backtest_archive(src, out, pretagged=True)
    assert stats["items"] == len(items)
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert len(lines) == stats["alerts"] > 0
    alerts = [Alert(**{**d, "top_articles": d["top_articles"]}) for d in lines]
    keys = {a.key for a in alerts}
    assert "region:ru-ce|topic:protest" in keys
    assert {a.state for a in alerts} >= {"firing", "resolved"}
    for d in lines:
        assert d["kibana_url"].startswith("http://localhost:5601/app/discover#/")
        assert 0 < len(d["top_articles"]) <= 5 and "__faust" not in d["top_articles"][0]
