"""Decision and evidence core tests: consumes evidence readings, thresholds and per-bucket counts, asserts scores,
episode decisions, scan evidence, dispersion, baseline clipping and calibration (no I/O)."""
from __future__ import annotations

import copy
import math

import pytest

from processors.spikes import core, evidence
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


# ------------------------------------------------------------------------------------------- evidence core

def test_poisson_z_is_exact_tail_above_the_mean_and_anscombe_below():
    assert evidence.poisson_z(2.0, 2.0) == evidence.anscombe_z(2.0, 2.0) == 0.0
    assert evidence.poisson_z(0.0, 4.0) == evidence.anscombe_z(0.0, 4.0) < 0
    assert evidence.poisson_z(3.0, 0.005) > 4.5 > evidence.anscombe_z(3.0, 0.005)   # sparse keys: exact tail
    assert evidence.poisson_z(10 ** 6, 1.0) == evidence.Z_CAP
    zs = [evidence.poisson_z(x, 6.0, 2.0) for x in range(40)]
    assert zs == sorted(zs)
    assert evidence.poisson_z(30, 6.0, 4.0) < evidence.poisson_z(30, 6.0, 1.0)      # overdispersion weakens


def test_anscombe_round_trip_and_zero_floor():
    for count in (0.0, 0.5, 3.0, 250.0):
        assert evidence.from_anscombe(evidence.anscombe(count)) == pytest.approx(count)
    assert evidence.from_anscombe(0.1) == 0.0 and evidence.from_anscombe(-2.0) == 0.0


def test_scan_sums_the_newest_windows_and_keeps_the_best():
    # newest first: a burst over the last two buckets beats either bucket alone
    w = evidence.scan([6.0, 6.0, 1.0], [1.0, 1.0, 1.0], 1.0)
    assert (w.observed, w.expected, w.length) == (12.0, 2.0, 2)
    assert w.z == evidence.poisson_z(12.0, 2.0, 1.0)
    assert w.z > evidence.poisson_z(6.0, 1.0) and w.z > evidence.poisson_z(13.0, 3.0)
    one = evidence.scan([9.0, 0.0, 0.0], [1.0, 1.0, 1.0], 1.0)
    assert one.length == 1 and one.observed == 9.0                  # an old calm window only dilutes
    quiet = evidence.scan([1.0, 1.0], [1.0, 1.0], 1.0)
    assert quiet.length == 1 and quiet.z == 0.0                      # ties keep the shortest window
    assert evidence.scan([8.0, 8.0], [1.0, 1.0], 4.0).z < evidence.scan([8.0, 8.0], [1.0, 1.0], 1.0).z


def test_share_expected_uses_the_other_items_and_caps_the_share():
    assert evidence.share_expected(0.1, 90.0) == pytest.approx(10.0)
    assert evidence.share_expected(0.0, 90.0) == 0.0
    assert evidence.share_expected(1.0, 10.0) == evidence.share_expected(0.95, 10.0) == pytest.approx(190.0)
    assert evidence.decayed(8.0, 2, 0.5) == 2.0 and evidence.decayed(8.0, 0, 0.5) == 8.0


def test_dispersion_learns_the_squared_residual_within_its_bounds():
    assert evidence.learn_dispersion(1.5, 4.0, 4.0, 0.1, 9.0) == pytest.approx(0.9 * 1.5 + 0.1 * 1.0)   # floor 1
    assert evidence.learn_dispersion(1.5, 400.0, 4.0, 0.1, 9.0) == pytest.approx(0.9 * 1.5 + 0.1 * 9.0)  # cap
    z0 = evidence.anscombe_z(9.0, 4.0)
    assert evidence.learn_dispersion(2.0, 9.0, 4.0, 0.5, 9.0) == pytest.approx(0.5 * 2.0 + 0.5 * z0 * z0)
    phi2 = 1.5
    for _ in range(500):                                   # a steady residual: converges to its square
        phi2 = evidence.learn_dispersion(phi2, 28.0, 16.0, 0.05, 9.0)
    assert phi2 == pytest.approx(evidence.anscombe_z(28.0, 16.0) ** 2) and 6.0 < phi2 < 9.0


def test_baseline_learns_a_huber_clipped_count():
    bound = evidence.huber_bound(16.0, 1.0, 3.0)
    # 3 Poisson standard deviations above 16 on the Anscombe scale: sqrt(bound + 3/8) = sqrt(16 + 3/8) + 1.5
    assert math.sqrt(bound + 0.375) == pytest.approx(math.sqrt(16.375) + 1.5)
    assert evidence.huber_bound(16.0, 4.0, 3.0) > bound                     # wider for an overdispersed key
    phi2, clipped = evidence.learn(1.5, 100.0, 16.0, 0.05, 9.0, 3.0)
    assert clipped == evidence.huber_bound(16.0, 1.5, 3.0) < 100.0           # the dispersion *before* the step
    assert phi2 == evidence.learn_dispersion(1.5, 100.0, 16.0, 0.05, 9.0)  # learned from the unclipped count
    assert evidence.learn(1.5, 12.0, 16.0, 0.05, 9.0, 3.0)[1] == 12.0        # below the bound: unchanged
    assert evidence.huber(5.0, 2.0) == 2.0 and evidence.huber(-5.0, 2.0) == -2.0 and evidence.huber(1.0, 2.0) == 1.0


def test_smooth_is_unit_variance_under_the_null_and_clipped():
    avg, ev = evidence.smooth(0.0, 2.0, 1.0, 30.0)
    assert avg == 2.0 and ev == pytest.approx(2.0)                 # weight 1: the row itself
    a = 0.2
    avg, ev = evidence.smooth(0.0, 100.0, a, 30.0)
    assert avg == pytest.approx(a * 30.0) and ev == pytest.approx(a * 30.0 / math.sqrt(a / (2 - a)))
    assert evidence.smooth(0.0, -100.0, a, 30.0)[0] == pytest.approx(-5.0 * a)


def test_calibration_divides_by_an_ordinary_days_peak_and_discounts_tails():
    assert evidence.reference([2.0, 4.0, 9.0]) == 4.0 and evidence.reference([0.2, 0.3]) == 1.0
    # a full edge (row z >= 1.5 times an ordinary day's extreme row): the plain ratio
    assert evidence.calibrate(8.0, [2.0, 4.0, 9.0], 6.0, [3.0, 4.0], 1.5, 0.5) == pytest.approx(2.0)
    # a row at 0.5 of an ordinary extreme row: discounted by (0.5 / 1.5) ** 0.5
    tail = evidence.calibrate(8.0, [4.0], 2.0, [4.0], 1.5, 0.5)
    assert tail == pytest.approx(2.0 * (0.5 / 1.5) ** 0.5)
    assert evidence.calibrate(8.0, [4.0], -3.0, [4.0], 1.5, 0.5) == 0.0
    assert evidence.calibrate(8.0, [4.0], 2.0, [4.0], 1.5, 0.0) == pytest.approx(2.0)   # power 0: no discount
    assert evidence.push_maximum([1.0, 2.0, 3.0], 4.123456, 3) == [2.0, 3.0, 4.1235]


def test_series_is_one_key_of_the_evidence_core():
    """The series adapter's state holds the core's quantities: expected count from its own seasonal history, the
    stream's dispersion learning, and the daily maxima the calibration divides by."""
    det = SeriesDetector()
    for i in range(3 * 288):
        det.update(1_425_168_000 + 300 * i, 40.0 + (i % 7))
    st = det.state
    assert 1.0 <= st["phi2"] <= DetectorConfig().dispersion_max
    slot = det._slot(st["t"])
    assert evidence.from_anscombe(st["L"] + st["S"][slot]) == pytest.approx(43.0, abs=3.0)
    assert len(st["maxima"]) == 2 and len(st["zmaxima"]) == 2


def test_series_state_from_before_the_learned_dispersion_upgrades():
    det = SeriesDetector()
    for i in range(300):
        det.update(1_425_168_000 + 300 * i, 20.0)
    old = copy.deepcopy(det.state)
    old["sc"] = 1.0
    del old["phi2"]
    again = SeriesDetector(state=old)
    again.update(1_425_168_000 + 300 * 300, 20.0)
    assert "sc" not in again.state and again.state["phi2"] > 0
