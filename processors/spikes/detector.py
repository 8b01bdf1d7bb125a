"""Detector knobs and the regular-series adapter: consumes a regular count series (timestamp, value), produces a
score per row; its evidence comes from the evidence core (evidence.py) and its episodes from the decision core
(core.py), the stream's own. Pure code, no I/O."""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Dict, Optional, Tuple

from processors.spikes import core, evidence
from processors.spikes.core import severity_rank, unit_score  # noqa: F401  (re-exported)
from processors.spikes.evidence import Z_CAP, anscombe_z, poisson_z  # noqa: F401  (re-exported)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DetectorConfig:
    """Detector knobs shared by the streaming processor and the series detector (defaults = the product)."""

    # --- evidence and lifecycle (shared) ---
    fire_z: float = 5.0                  # standardised evidence that opens an episode (score 0.5)
    severity_z: Tuple[float, float, float, float] = (5.0, 7.5, 10.5, 14.0)  # low / medium / high / critical
    resolve_z: float = 1.5               # a bucket below this is "quiet"
    quiet_buckets: int = 2               # consecutive quiet complete buckets that resolve an episode
    cooldown_buckets: int = 2            # after resolution, no new episode for this many buckets
    # --- streaming count keys ---
    min_stories: int = 3                 # distinct stories in the evidence window needed to fire
    min_outlets: int = 1                 # distinct outlets in the evidence window needed to fire
    min_history_buckets: int = 24        # a key first seen less than this many buckets ago stays quiet
    scan_buckets: int = 3                # evidence windows: the last 1..scan_buckets buckets
    share_halflife_seconds: float = 3 * 86400.0  # memory of a key's share of the overall volume
    dispersion_prior: float = 1.5        # prior overdispersion (variance ratio on the Anscombe scale)
    dispersion_weight: float = 0.05      # EWMA weight of a new squared residual in the dispersion
    dispersion_max: float = 9.0
    huber_z: float = 3.0                 # residuals beyond this are clipped when the baseline learns
    max_articles: int = 5
    max_co_tags: int = 10
    # --- regular series (NAB) ---
    series_level_halflife: float = 6 * 3600.0    # seconds; level of the de-seasonalised series
    series_season_halflife_days: float = 7.0     # per-slot seasonal offset memory
    series_scale_halflife: float = 2 * 86400.0   # seconds; memory of the dispersion (the stream's, per row)
    series_smooth_halflife: float = 900.0        # seconds; short EWMA of residuals (evidence)
    series_slots_per_day: int = 24
    series_z_clip: float = 30.0                  # cap of one row's standardised residual in the evidence
    series_ref_days: int = 10                    # daily evidence maxima in the reference median
    series_min_day_coverage: float = 0.5         # a day's maxima enter the reference only if this much of it was seen
    series_fire_ratio: float = 2.0               # evidence / reference that opens an episode (score 0.5)
    series_edge_ratio: float = 1.5               # a row this many times an ordinary daily extreme row is a full edge
    series_edge_power: float = 0.5               # evidence discount exponent for rows below series_edge_ratio
    series_resolve_ratio: float = 0.3            # below this the series is calm
    series_quiet_seconds: float = 3600.0         # calm this long resolves an episode
    series_cooldown_seconds: float = 12 * 3600.0  # no new episode this long after one resolved


def severity_of(z: float, config: DetectorConfig) -> Optional[str]:
    """Severity tier for an evidence value, or None below the lowest tier."""
    return core.severity_of(z, tuple(config.severity_z))


def _ts_seconds(ts: Any) -> float:
    if isinstance(ts, (int, float)):
        return float(ts)
    if isinstance(ts, datetime):
        dt = ts if ts.tzinfo else ts.replace(tzinfo=timezone.utc)
        return dt.timestamp()
    s = str(ts).strip().replace(" ", "T")
    dt = datetime.fromisoformat(s[:-1] + "+00:00" if s.endswith("Z") else s)
    return (dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)).timestamp()


class SeriesDetector:
    """A regular count series as one key of the evidence core: `update(ts, value) -> score in [0, 1]` (streaming, O(1)).

    1. Expected count from the series' own history (its own volume), as a stream key's comes from its share of the
       overall volume: a slow level plus a per-slot (hour of day) seasonal offset on the Anscombe scale
       (sqrt(count + 3/8)), learned with Huber-clipped innovations so bursts barely move it. The overdispersion is
       the stream's (the core's `learn_dispersion`: EWMA of the squared Poisson residual, within [1, dispersion_max]).
    2. Evidence: the core's residual z of the row (`anscombe_z`: observed vs expected count on the Anscombe scale,
       over the dispersion; the exact tail `poisson_z` measured lower here, 73.43), smoothed by the core's `smooth` (an EWMA, `series_smooth_halflife`, rescaled to unit variance under the
       null). On NAB's 5-minute tweet counts this measured better than the stream's `scan` over the last
       rows (leave-one-series-out mean 76.92 smoothed, 64.12 / 62.71 with a 3 / 6-row scan).
    3. Calibration (the core's `calibrate`): the evidence over the median of the last `series_ref_days` daily
       maxima of the evidence itself (how big an ordinary day's biggest burst is for *this* series), so one default
       works for quiet and bursty series alike; an alert needs `series_fire_ratio` times an ordinary daily peak. A
       row below `series_edge_ratio` times an ordinary day's most extreme row z has its ratio discounted (the rising
       edge of a burst alerts, not the decaying tail of a moderate one).
    Warm-up: the level, dispersion and each seasonal slot learn with weight max(EWMA weight, 1 / updates so far)
    (a running mean until the EWMA takes over); a partial day (less than `series_min_day_coverage` observed, e.g.
    the first one) contributes no daily maxima.
    4. Episodes (the decision core, the same as the stream's, in seconds): the first row of an episode reports its
       score (>= 0.5); rows inside the episode report < 0.5; the episode resolves after `series_quiet_seconds` of
       calm and is followed by a cooldown.
    Score = unit_score(ratio, series_fire_ratio), so 0.5 is exactly the alert threshold."""

    def __init__(self, config: DetectorConfig = DetectorConfig(), state: Optional[Dict[str, Any]] = None) -> None:
        self.config = config
        self.thresholds = core.series_thresholds(config)
        self.state: Dict[str, Any] = state if state is not None else {}
        self.last_z = 0.0   # the row's own residual z (diagnostics)

    def _slot(self, t: float) -> int:
        n = self.config.series_slots_per_day
        return int((t % 86400.0) // (86400.0 / n))

    def update(self, ts: Any, value: float) -> float:
        cfg, st = self.config, self.state
        t, x = _ts_seconds(ts), max(float(value), 0.0)
        if not st:
            self._start(t, x)
            return 0.0
        _upgrade(st)
        dt = max(t - st["t"], 1.0)
        st["t"] = t
        slot = self._slot(t)
        mu = evidence.from_anscombe(st["L"] + st["S"][slot])       # expected count: the seasonal baseline
        known = st["phi2"] is not None
        ev, zrow = self._evidence(st, x, mu, dt)
        self._learn(st, x, mu, slot, dt)
        self._daily(st, t, dt, ev, zrow)
        if not st["maxima"] or not st["zmaxima"] or not known:
            return 0.0
        ratio = evidence.calibrate(ev, st["maxima"], zrow, st["zmaxima"], cfg.series_edge_ratio, cfg.series_edge_power)
        st["ratio"] = ratio
        return self._decide(st, ratio, t, dt)

    def _start(self, t: float, x: float) -> None:
        n = self.config.series_slots_per_day
        self.state.update({"t": t, "L": evidence.anscombe(x), "S": [0.0] * n, "phi2": None, "sm": 0.0,
                           "day": int(t // 86400), "dmax": 0.0, "maxima": [], "zdmax": 0.0, "zmaxima": [],
                           "life": core.Lifecycle().to_json(), "n": 1, "ks": [0] * n, "dcov": 0.0})

    def _evidence(self, st: Dict[str, Any], x: float, mu: float, dt: float) -> Tuple[float, float]:
        """(the smoothed evidence, the row's own z clipped at `series_z_clip`); both 0 until the dispersion is known."""
        cfg = self.config
        if st["phi2"] is None:
            return 0.0, 0.0
        z = self.last_z = evidence.anscombe_z(x, mu, st["phi2"])
        st["sm"], ev = evidence.smooth(st["sm"], z, 1.0 - 0.5 ** (dt / cfg.series_smooth_halflife), cfg.series_z_clip)
        return ev, min(z, cfg.series_z_clip)

    def _learn(self, st: Dict[str, Any], x: float, mu: float, slot: int, dt: float) -> None:
        """The baseline learns the row: Huber-clipped innovations of the level, then of the slot's seasonal offset,
        then the dispersion (warm-up: weight >= 1 / updates so far, a running mean until the EWMA weight is larger)."""
        cfg = self.config
        y, season, phi2 = evidence.anscombe(x), st["S"][slot], st["phi2"]
        c = cfg.huber_z * (math.sqrt(phi2) / 2.0 if phi2 else max(abs(y - st["L"] - season), 0.5))
        st["n"] += 1
        a_l = max(1.0 - 0.5 ** (dt / cfg.series_level_halflife), 1.0 / st["n"])
        st["L"] += a_l * evidence.huber(y - season - st["L"], c)
        st["ks"][slot] += 1
        a_s = max(1.0 - 0.5 ** (dt / (cfg.series_season_halflife_days * 86400.0 / cfg.series_slots_per_day)),
                  1.0 / (st["ks"][slot] + 1))
        st["S"][slot] = season + a_s * evidence.huber(y - st["L"] - season, c)
        a_d = max(1.0 - 0.5 ** (dt / cfg.series_scale_halflife), 1.0 / st["n"])
        st["phi2"] = evidence.learn_dispersion(phi2 or cfg.dispersion_prior, x, mu, a_d, cfg.dispersion_max)

    def _daily(self, st: Dict[str, Any], t: float, dt: float, ev: float, zrow: float) -> None:
        """Daily maxima of the evidence and of the row z: the calibration's reference of an ordinary day."""
        cfg = self.config
        day = int(t // 86400)
        if day != st["day"]:
            if st["dcov"] >= cfg.series_min_day_coverage * 86400.0:
                st["maxima"] = evidence.push_maximum(st["maxima"], st["dmax"], cfg.series_ref_days)
                st["zmaxima"] = evidence.push_maximum(st["zmaxima"], st["zdmax"], cfg.series_ref_days)
            st["day"], st["dmax"], st["zdmax"], st["dcov"] = day, 0.0, 0.0, 0.0
        st["dcov"] += min(dt, 3600.0)
        st["dmax"] = max(st["dmax"], ev)
        st["zdmax"] = max(st["zdmax"], zrow)

    def _decide(self, st: Dict[str, Any], ratio: float, t: float, dt: float) -> float:
        """Episode decision of the shared core on this row; the row's reported score."""
        life = core.Lifecycle.from_json(st["life"]) if "life" in st else core.Lifecycle.from_json(st)
        decision = core.step(life, ratio, t, self.thresholds, elapsed=dt)
        for old in ("ep", "q", "cd"):
            st.pop(old, None)
        st["life"] = life.to_json()
        return core.row_score(decision, unit_score(ratio, self.config.series_fire_ratio))


def _upgrade(st: Dict[str, Any]) -> None:
    """States saved before warm-up, edge or the learned dispersion existed: treat as warmed up; the robust scale
    `sc` (Anscombe-scale standard deviation) becomes the dispersion (2 * sc) ** 2."""
    st.setdefault("zdmax", 0.0)
    st.setdefault("zmaxima", [])
    st.setdefault("n", 10 ** 6)
    st.setdefault("ks", [10 ** 6] * len(st["S"]))
    st.setdefault("dcov", 86400.0)
    if "phi2" not in st:
        sc = st.pop("sc", None)
        st["phi2"] = None if sc is None else (2.0 * sc) ** 2
