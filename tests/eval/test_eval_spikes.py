"""Spike evaluation: consumes ../shared (NAB, Reuters dev, HuffPost) and the bundled stream, asserts regression
floors (each a little below today's measurement, so each can fail) and prints the targets still ahead."""
from __future__ import annotations

from pathlib import Path

import pytest

from processors.spikes.evaluate import nab_eval, nab_summary

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
TARGET = 85.0        # the project's target for NAB standard at the fixed 0.5 threshold (printed, not asserted)
REGRESSION = 78.2    # measured 78.64 at 0.5 (swept 79.25) with the stream's evidence core; guard just below
LOO_FLOOR = 75.9     # leave-one-series-out mean (threshold swept on the other five): measured 76.92
REPLAY_SHARED = (SHARED / "corpora" / "reuters21578" / "dev.jsonl").exists()


@pytest.mark.eval
@pytest.mark.skipif(not (SHARED / "nab" / "windows.json").exists(), reason="../shared/nab not present")
def test_nab_realtweets_standard_at_fixed_threshold(tmp_path: Path) -> None:
    result = nab_eval(SHARED, tmp_path, echo=False)
    scores = nab_summary(result)
    fixed, swept = scores["fixed"], scores["swept"]
    assert set(fixed) == {"standard", "reward_low_FP_rate", "reward_low_FN_rate"}
    # calibration: the fixed 0.5 threshold is close to the best swept one
    assert swept["standard"] - fixed["standard"] < 5.0
    # the per-window report agrees with the scorer, and the no-false-positive ceiling bounds the score
    report = result["windows"]
    overall = result["fixed"]["overall"]["standard"]
    assert len(report["windows"]) == overall["windows"] == 18
    assert sum(1 for w in report["windows"] if w["first_detection"]) == overall["windows_detected"]
    assert sum(report["false_positives"].values()) == overall["fp_rows"]
    assert fixed["standard"] <= report["no_fp_ceiling"] <= 100.0
    assert all(0.0 < w["reward"] <= 1.0 for w in report["windows"] if w["first_detection"])
    assert fixed["standard"] >= REGRESSION, f"NAB standard at 0.5 = {fixed['standard']:.2f} < {REGRESSION} (swept {swept})"
    loo = scores["leave_one_out_mean"]["standard"]
    assert loo >= LOO_FLOOR, f"NAB leave-one-series-out mean {loo:.2f} < {LOO_FLOOR}"
    print(f"NAB standard at 0.5 = {fixed['standard']:.2f} (floor {REGRESSION}, target {TARGET}); leave-one-series-out "
          f"mean {loo:.2f} (floor {LOO_FLOOR}, target {TARGET} on unseen series)")


@pytest.mark.eval
@pytest.mark.skipif(not (SHARED / "corpora" / "huffpost_news_category" / "stream.jsonl").exists(),
                    reason="../shared HuffPost stream not present")
def test_huffpost_replay_is_quiet_and_catches_injected_surges() -> None:
    from surgewatch.offline import huffpost_eval
    result = huffpost_eval(SHARED, tagging="tagger", echo=False)   # the enrich stage's tagging and near-duplicate keys
    assert result["items"] == 9999 and result["tagging"] == "tagger"
    for bucket, r in result["by_bucket"].items():
        # measured: 0.0 episodes per 1,000 real headlines; 6/6 surges, median delay 90 min (hourly), 84 min (daily)
        assert r["episodes_per_1000_items"] <= 1.0, (bucket, r["episode_keys"])
        assert r["surges_detected"] == result["surge_trials"], (bucket, r)
        assert r["median_detection_delay_minutes"] <= 3 * 60, (bucket, r)   # within the 3-hour surge
        assert r["late_events"] == 0
        inc = r["incidents"]
        if inc["incidents"]:
            assert NOTIFICATIONS_PER_INCIDENT[0] <= inc["notifications_per_incident"] <= NOTIFICATIONS_PER_INCIDENT[1]


# measured (hourly buckets, the enrich stage's tagging): bundled stream 16 firing alerts -> 2 incidents, Reuters
# dev 21 -> 6; 1.00 notifications per incident on both; injected surges (5 stories an hour for 3 hours) caught 6/6
# and 6/6 (median 78 / 60 min) since a key's own episode no longer trains its baseline (4/6 and 4/6 before). Floors:
# the measurement, with room only where a count may move by one (the figures move with the tagging).
REPLAY_FLOORS = {"bundled stream": {"max_incidents": 3, "min_alerts_per_incident": 3.0, "min_injected": 5},
                 "reuters dev": {"max_incidents": 8, "min_alerts_per_incident": 2.0, "min_injected": 5}}
NOTIFICATIONS_PER_INCIDENT = (0.8, 1.2)   # the target band, asserted


@pytest.mark.eval
@pytest.mark.skipif(not REPLAY_SHARED, reason="../shared Reuters dev not present")
def test_replays_notify_once_per_incident() -> None:
    from surgewatch.replays import replay_eval
    result = replay_eval(SHARED, echo=True)
    assert set(result) == set(REPLAY_FLOORS)
    for name, r in result.items():
        floor = REPLAY_FLOORS[name]
        lo, hi = NOTIFICATIONS_PER_INCIDENT
        assert r["alerts_without_incident"] == 0, name
        assert lo <= r["notifications_per_incident"] <= hi, (name, r["incident_list"])
        assert 1 <= r["incidents"] <= floor["max_incidents"], (name, r["incident_list"])
        assert r["alerts_per_incident"] >= floor["min_alerts_per_incident"], (name, r["incident_list"])
        assert r["resolutions"] == r["incidents"], name              # every incident resolves by the end
        inj = r["injected"]
        assert inj["detected"] >= floor["min_injected"], (name, inj)
        assert inj["median_delay_minutes"] <= 3 * 60, (name, inj)   # within the 3-hour surge
        assert inj["detected"] >= inj["per_key_detected"], (name, inj)   # grouping never hides a surge
        print(f"{name}: injected surges caught {inj['detected']}/{inj['trials']} (target: all)")
    # the founding surge: one incident on 2023-11-08 holds the Muslim community and the North Caucasus keys
    founding = [i for i in result["bundled stream"]["incident_list"] if i["day"] == "2023-11-08"]
    assert len(founding) == 1 and {"community:muslims", "region:north-caucasus"} <= set(founding[0]["keys"])
