"""Decision core tests: consumes evidence readings and thresholds, asserts scores and episode decisions (no I/O)."""
from __future__ import annotations

import copy

import pytest

from processors.spikes import core
from processors.spikes.detector import DetectorConfig, SeriesDetector
from processors.spikes.core import (COOLING, ESCALATE, HOLD, NONE, OPEN, RESOLVE, Lifecycle, LifecycleVersionError,
                                    Thresholds, row_score, step, unit_score)

TH = Thresholds(fire=5.0, resolve=1.5, quiet=2, cooldown=2, tiers=(5.0, 7.5, 10.5, 14.0))


def test_unit_score_is_half_at_threshold_and_monotone():
    assert unit_score(5.0, 5.0) == 0.5
    assert unit_score(0.0, 5.0) == 0.0 and unit_score(-3.0, 5.0) == 0.0
    values = [unit_score(z / 10, 5.0) for z in range(0, 200)]
    assert values == sorted(values) and max(values) < 1.0
    assert unit_score(4.99, 5.0) < 0.5 < unit_score(5.01, 5.0)


def test_opens_at_fire_threshold_with_lowest_tier():
    life = Lifecycle()
    assert step(life, 4.999, 10, TH) == NONE and not life.open
    assert step(life, 5.0, 10, TH) == OPEN
    assert life.open and life.severity == "low" and life.quiet == 0


def test_gate_keeps_it_closed():
    life = Lifecycle()
    assert step(life, 30.0, 10, TH, gates_ok=False) == NONE and not life.open


def test_opening_takes_the_tier_of_its_evidence():
    life = Lifecycle()
    assert step(life, 11.0, 10, TH) == OPEN and life.severity == "high"


def test_escalates_only_to_a_higher_tier():
    life = Lifecycle()
    step(life, 6.0, 10, TH)
    assert step(life, 7.0, 10, TH) == HOLD
    assert step(life, 8.0, 11, TH) == ESCALATE and life.severity == "medium"
    assert step(life, 6.0, 11, TH) == HOLD and life.severity == "medium"
    assert step(life, 15.0, 12, TH) == ESCALATE and life.severity == "critical"


def test_no_tiers_means_no_escalation():
    th = Thresholds(fire=2.0, resolve=0.3, quiet=3600.0, cooldown=43200.0)
    life = Lifecycle()
    assert step(life, 2.5, 0.0, th, elapsed=300.0) == OPEN and life.severity is None
    assert step(life, 50.0, 300.0, th) == HOLD


def test_calm_intervals_resolve_and_a_busy_one_resets_the_count():
    life = Lifecycle()
    step(life, 6.0, 10, TH)
    assert step(life, 1.0, 11, TH, elapsed=1) == HOLD and life.quiet == 1
    assert step(life, 1.5, 12, TH, elapsed=1) == HOLD and life.quiet == 0   # at the resolve level: not calm
    assert step(life, 0.2, 13, TH, elapsed=1) == HOLD and life.quiet == 1
    assert step(life, -4.0, 14, TH, elapsed=1) == RESOLVE
    assert not life.open and life.cooldown_until == 16 and life.severity is None


def test_cooldown_blocks_through_its_last_unit():
    life = Lifecycle(cooldown_until=16)
    assert step(life, 40.0, 15, TH) == COOLING
    assert step(life, 40.0, 16, TH) == COOLING
    assert step(life, 40.0, 17, TH) == OPEN


def test_calm_time_adds_up_in_seconds():
    th = Thresholds(fire=2.0, resolve=0.3, quiet=3600.0, cooldown=100.0)
    life = Lifecycle()
    step(life, 3.0, 0.0, th, elapsed=300.0)
    decisions = [step(life, 0.1, 300.0 * k, th, elapsed=300.0) for k in range(1, 13)]
    assert decisions[:-1] == [HOLD] * 11 and decisions[-1] == RESOLVE
    assert life.cooldown_until == 3600.0 + 100.0


def test_row_score_marks_only_the_opening_row():
    assert row_score(OPEN, 0.3) == 0.5 and row_score(OPEN, 0.8) == 0.8
    assert row_score(HOLD, 0.9) == pytest.approx(0.245) and row_score(RESOLVE, 0.1) == pytest.approx(0.05)
    assert row_score(NONE, 0.9) == 0.4999 and row_score(COOLING, 0.2) == 0.2


def test_lifecycle_json_roundtrip_and_old_series_keys():
    life = Lifecycle(True, 600.0, None, "medium")
    assert Lifecycle.from_json(life.to_json()) == life
    assert Lifecycle.from_json({"ep": 1, "q": 900.0, "cd": None}) == Lifecycle(True, 900.0, None)
    assert Lifecycle.from_json({"ep": 0, "q": 0.0, "cd": 1234.0}) == Lifecycle(False, 0.0, 1234.0)
    with pytest.raises(LifecycleVersionError):
        Lifecycle.from_json({"version": core.LIFECYCLE_VERSION + 1, "open": False, "quiet": 0,
                             "cooldown_until": None})


def test_stream_and_series_thresholds_come_from_the_config():
    cfg = DetectorConfig()
    st = core.stream_thresholds(cfg)
    assert (st.fire, st.resolve, st.quiet, st.cooldown) == (cfg.fire_z, cfg.resolve_z, cfg.quiet_buckets,
                                                             cfg.cooldown_buckets)
    se = core.series_thresholds(cfg)
    assert (se.fire, se.quiet, se.tiers) == (cfg.series_fire_ratio, cfg.series_quiet_seconds, ())


def test_series_detector_reads_state_saved_with_the_old_episode_keys():
    """A series state from before the core (ep / q / cd) keeps its open episode: no second opening row."""
    det = SeriesDetector()
    rows = [(f"2015-03-{2 + i // 288:02d} {(i % 288) * 5 // 60:02d}:{(i % 288) * 5 % 60:02d}:00", 40.0)
            for i in range(288 * 4)]
    for ts, v in rows:
        det.update(ts, v)
    st = det.state
    life = Lifecycle.from_json(st.pop("life"))
    assert not life.open
    fresh = SeriesDetector(state=copy.deepcopy({**st, "ep": 0, "q": 0.0, "cd": None}))
    assert fresh.update("2015-03-06 00:00:00", 4000.0) >= 0.5      # the same row opens a closed episode
    st.update({"ep": 1, "q": 0.0, "cd": None})
    score = det.update("2015-03-06 00:00:00", 4000.0)
    assert score < 0.5 and "ep" not in det.state and Lifecycle.from_json(det.state["life"]).open
