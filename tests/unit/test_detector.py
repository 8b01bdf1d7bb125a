"""Series detector and evidence tests: consumes synthetic count series, asserts scores (no I/O)."""
from __future__ import annotations

import json
import math
import random
from datetime import datetime, timedelta, timezone
from typing import List, Tuple

from processors.spikes.detector import (DetectorConfig, SeriesDetector, anscombe_z, poisson_z, severity_of,
                                        unit_score)

T0 = datetime(2015, 3, 2, tzinfo=timezone.utc)


def series(days: int, base: float = 40.0, seed: int = 3, spike: Tuple[int, float] | None = None) -> List[Tuple[str, float]]:
    """5-minute Poisson counts with a daily rhythm; spike=(row, factor) multiplies one hour from that row."""
    rng = random.Random(seed)
    out = []
    for i in range(days * 288):
        t = T0 + timedelta(minutes=5 * i)
        lam = base * (1 + 0.7 * math.sin(2 * math.pi * (t.hour + t.minute / 60 - 8) / 24))
        if spike and spike[0] <= i < spike[0] + 12:
            lam *= spike[1]
        out.append((t.strftime("%Y-%m-%d %H:%M:%S"), float(_poisson(rng, lam))))
    return out


def _poisson(rng: random.Random, lam: float) -> int:
    return max(0, int(round(rng.gauss(lam, math.sqrt(lam)))))


def test_unit_score_is_calibrated_at_the_alert_threshold() -> None:
    assert unit_score(4.5, 4.5) == 0.5
    vals = [unit_score(z, 4.5) for z in (-1, 0, 1, 4, 4.5, 5, 10, 100)]
    assert vals == sorted(vals) and vals[0] == 0.0 and vals[-1] < 1.0


def test_poisson_evidence() -> None:
    assert poisson_z(3, 0.005) > 4.5                     # 3 stories where 0.005 are expected: strong
    assert poisson_z(3, 2.0) < 2.0                       # 3 where 2 expected: nothing
    assert poisson_z(1, 2.0) <= 0 and poisson_z(2, 2.0) == anscombe_z(2, 2.0)
    zs = [poisson_z(x, 4.0, 1.5) for x in range(0, 40)]
    assert zs == sorted(zs)
    assert poisson_z(30, 4.0, 3.0) < poisson_z(30, 4.0, 1.0)   # overdispersion weakens evidence
    cfg = DetectorConfig()
    assert severity_of(cfg.fire_z - 0.1, cfg) is None and severity_of(cfg.fire_z, cfg) == "low"
    assert severity_of(100, cfg) == "critical"


def test_daily_rhythm_alone_never_scores_an_alert() -> None:
    det = SeriesDetector()
    scores = [det.update(t, v) for t, v in series(12)]
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert max(scores) < 0.5


def test_spike_alerts_once_at_its_start() -> None:
    spike_row = 10 * 288 + 150
    rows = series(12, spike=(spike_row, 6.0))
    det = SeriesDetector()
    scores = [det.update(t, v) for t, v in rows]
    hits = [i for i, s in enumerate(scores) if s >= 0.5]
    assert len(hits) == 1
    assert spike_row <= hits[0] <= spike_row + 2                 # within 10 minutes of its start
    assert max(scores[hits[0] + 1:hits[0] + 12]) < 0.5            # inside the episode: below threshold


def test_streaming_and_state_round_trip() -> None:
    rows = series(9, spike=(8 * 288, 5.0))
    full = SeriesDetector()
    ref = [full.update(t, v) for t, v in rows]
    a = SeriesDetector()
    got = [a.update(t, v) for t, v in rows[:2000]]
    assert got == ref[:2000]                                       # score at t uses rows <= t only
    b = SeriesDetector(state=json.loads(json.dumps(a.state)))
    got += [b.update(t, v) for t, v in rows[2000:]]
    assert got == ref


def _with_daily_bursts(factor: float, start: int, seed: int = 5) -> List[Tuple[str, float]]:
    """12 days where every ordinary day carries one 5x single-row burst; an hour at `factor` from `start`."""
    rng = random.Random(seed)
    daily = {d * 288 + rng.randrange(288) for d in range(12)}
    return [(t, v * (5.0 if i in daily and abs(i - start) > 30 else factor if start <= i < start + 12 else 1.0))
            for i, (t, v) in enumerate(series(12))]


def test_alerts_need_an_extreme_row_not_just_a_smoothed_excess() -> None:
    start = 10 * 288 + 150
    moderate = _with_daily_bursts(2.2, start)       # each row far below an ordinary day's most extreme row
    strong = _with_daily_bursts(3.5, start)

    def block_scores(rows: List[Tuple[str, float]], cfg: DetectorConfig) -> List[float]:
        det = SeriesDetector(cfg)
        return [det.update(t, v) for t, v in rows][start:start + 20]

    no_edge = DetectorConfig(series_edge_power=0.0)
    assert max(block_scores(moderate, no_edge)) >= 0.5            # smoothed excess alone would alert
    assert max(block_scores(moderate, DetectorConfig())) < 0.5    # the edge discount holds it back
    assert max(block_scores(strong, DetectorConfig())) >= 0.5     # a clearly stronger hour still alerts


def test_warm_up_leaves_no_start_up_artefacts_in_the_reference() -> None:
    for base in (10.0, 400.0):
        for seed in (1, 2, 3):
            rows = series(4, base=base, seed=seed)[200:]           # starts late in the day (partial first day)
            det = SeriesDetector()
            for t, v in rows[:3 * 288]:
                det.update(t, v)
            assert len(det.state["zmaxima"]) == 2                   # the partial first day adds no daily maxima
            # pure Poisson noise: an ordinary day's most extreme row is a few sigma, not a start-up residual (the
            # stream's dispersion, winsorised at dispersion_max Poisson units, reads the first full day of a
            # 400-a-row series, whose daily shape is still being learned, at up to 4.7 / 6.2; later days 2-3.3)
            assert max(det.state["zmaxima"]) < 5.0, (base, seed, det.state["zmaxima"])
            assert max(det.state["maxima"]) < 7.0, (base, seed, det.state["maxima"])
            assert max(det.state["zmaxima"][1:]) < 4.0, (base, seed, det.state["zmaxima"])


def test_early_spike_after_warm_up_alerts() -> None:
    spike_row = 3 * 288 + 100                                       # day 4, right after a short history
    for seed in (1, 2, 3):
        rows = series(5, seed=seed, spike=(spike_row, 4.0))
        det = SeriesDetector()
        scores = [det.update(t, v) for t, v in rows]
        hits = [i for i, s in enumerate(scores) if s >= 0.5]
        assert hits and spike_row <= hits[0] <= spike_row + 3, (seed, hits)
