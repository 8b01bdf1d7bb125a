"""Spike evidence: consumes counts (observed vs expected, or a regular series), produces standardised evidence;
scores, severities and episode decisions come from the decision core (core.py). Pure code, no I/O."""
from __future__ import annotations

import logging
import math
import statistics
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Dict, Optional, Tuple

from scipy.special import gammainc, ndtri

from processors.spikes import core
from processors.spikes.core import severity_rank, unit_score  # noqa: F401  (re-exported)

logger = logging.getLogger(__name__)

Z_CAP = 37.0   # |ndtri| of the smallest normal double


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
    series_scale_halflife: float = 2 * 86400.0   # seconds; robust scale (mean absolute residual)
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


def anscombe_z(observed: float, expected: float, dispersion: float = 1.0) -> float:
    """Standardised count residual on the Anscombe (variance-stabilised) scale, divided by sqrt(dispersion)."""
    return 2.0 * (math.sqrt(max(observed, 0.0) + 0.375) - math.sqrt(max(expected, 0.0) + 0.375)) / math.sqrt(max(dispersion, 1e-9))


def poisson_z(observed: float, expected: float, dispersion: float = 1.0) -> float:
    """Evidence of an excess count as a normal quantile: z with P(N(0,1) >= z) = P(X >= observed), X ~ quasi-Poisson
    (mean `expected`, variance `dispersion` * mean). Exact tails for the small counts of sparse keys (where the
    Anscombe residual understates significance); at or below the mean it returns the Anscombe residual."""
    phi2 = max(dispersion, 1e-9)
    k = max(observed, 0.0) / phi2
    m = max(expected, 1e-9) / phi2
    if k <= m:
        return anscombe_z(observed, expected, dispersion)
    p = float(gammainc(k, m))            # P(Poisson(m) >= k), continuous in k
    if p <= 1e-300:
        return Z_CAP
    return min(Z_CAP, float(-ndtri(p)))


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
    """The core detector on a regular count series: `update(ts, value) -> score in [0, 1]` (streaming, O(1)).

    1. Variance-stabilise counts: y = sqrt(value + 3/8) (Anscombe).
    2. Baseline: slow level + per-slot (hour of day) seasonal offset, EWMAs fed with Huber-clipped
       innovations so bursts barely move them; scale = EWMA of clipped absolute residuals (MAD-like).
    3. Evidence: standardised residual z, smoothed by a short EWMA (`series_smooth_halflife`) and rescaled to
       unit variance under the null.
    4. Self-calibration: evidence is divided by the median of the last `series_ref_days` daily maxima of the
       evidence itself (how big an ordinary day's biggest burst is for *this* series), so one default works
       for quiet and bursty series alike; an alert needs `series_fire_ratio` times an ordinary daily peak.
    4b. Edge: the row's own residual z is calibrated the same way (median of daily maxima of the row z). A row
       below `series_edge_ratio` times an ordinary day's most extreme row has its evidence ratio discounted by
       (edge / series_edge_ratio) ** series_edge_power, so alerts land on rows that are themselves extreme (the
       rising edge of a burst), not on the decaying tail of a moderate one that the smoothing carried over.
    Warm-up: the level, scale and each seasonal slot learn with weight max(EWMA weight, 1 / updates so far)
    (a running mean until the EWMA takes over), so start-up residuals do not inflate the reference; a partial
    day (less than `series_min_day_coverage` observed, e.g. the first one) contributes no daily maxima.
    5. Episodes (the decision core, the same as the stream's, in seconds): the first row of an episode reports its
       score (>= 0.5); rows inside the episode report < 0.5; the episode resolves after `series_quiet_seconds` of
       calm and is followed by a cooldown.
    Score = unit_score(ratio, series_fire_ratio), so 0.5 is exactly the alert threshold."""

    def __init__(self, config: DetectorConfig = DetectorConfig(), state: Optional[Dict[str, Any]] = None) -> None:
        self.config = config
        self.thresholds = core.series_thresholds(config)
        self.state: Dict[str, Any] = state if state is not None else {}
        self.last_z = 0.0   # standardised residual of the last row (diagnostics)

    def _slot(self, t: float) -> int:
        n = self.config.series_slots_per_day
        return int((t % 86400.0) // (86400.0 / n))

    def update(self, ts: Any, value: float) -> float:
        cfg = self.config
        st = self.state
        t = _ts_seconds(ts)
        y = math.sqrt(max(float(value), 0.0) + 0.375)
        if not st:
            st.update({"t": t, "L": y, "S": [0.0] * cfg.series_slots_per_day, "sc": None, "sm": 0.0,
                       "day": int(t // 86400), "dmax": 0.0, "maxima": [], "zdmax": 0.0, "zmaxima": [],
                       "life": core.Lifecycle().to_json(), "n": 1, "ks": [0] * cfg.series_slots_per_day, "dcov": 0.0})
            return 0.0
        # states saved before warm-up / edge existed: treat as warmed up
        st.setdefault("zdmax", 0.0)
        st.setdefault("zmaxima", [])
        st.setdefault("n", 10 ** 6)
        st.setdefault("ks", [10 ** 6] * len(st["S"]))
        st.setdefault("dcov", 86400.0)
        dt = max(t - st["t"], 1.0)
        st["t"] = t
        slot = self._slot(t)
        season = st["S"][slot]
        resid = y - (st["L"] + season)
        scale = st["sc"]
        z = resid / scale if scale else 0.0
        a_sm = 1.0 - 0.5 ** (dt / cfg.series_smooth_halflife)
        st["sm"] = (1 - a_sm) * st["sm"] + a_sm * max(min(z, cfg.series_z_clip), -5.0)
        evidence = st["sm"] / math.sqrt(a_sm / (2.0 - a_sm))
        zrow = min(z, cfg.series_z_clip)
        self.last_z = z
        # learn (Huber-clipped innovations; the level first, then the slot's seasonal offset)
        # (warm-up: weight >= 1 / updates so far, i.e. a running mean until the EWMA weight is larger)
        c = cfg.huber_z * (scale if scale else max(abs(resid), 0.5))
        st["n"] += 1
        a_l = max(1.0 - 0.5 ** (dt / cfg.series_level_halflife), 1.0 / st["n"])
        st["L"] += a_l * max(-c, min(c, y - season - st["L"]))
        st["ks"][slot] += 1
        a_s = max(1.0 - 0.5 ** (dt / (cfg.series_season_halflife_days * 86400.0 / cfg.series_slots_per_day)),
                  1.0 / (st["ks"][slot] + 1))
        st["S"][slot] = season + a_s * max(-c, min(c, y - st["L"] - season))
        a_sc = max(1.0 - 0.5 ** (dt / cfg.series_scale_halflife), 1.0 / st["n"])
        absr = min(abs(resid), c) * 1.2533
        st["sc"] = absr if scale is None else max((1 - a_sc) * scale + a_sc * absr, 0.05)
        # daily maxima of the evidence -> reference level
        day = int(t // 86400)
        if day != st["day"]:
            if st["dcov"] >= cfg.series_min_day_coverage * 86400.0:
                st["maxima"] = (st["maxima"] + [round(st["dmax"], 4)])[-cfg.series_ref_days:]
                st["zmaxima"] = (st["zmaxima"] + [round(st["zdmax"], 4)])[-cfg.series_ref_days:]
            st["day"], st["dmax"], st["zdmax"], st["dcov"] = day, 0.0, 0.0, 0.0
        st["dcov"] += min(dt, 3600.0)
        st["dmax"] = max(st["dmax"], evidence)
        st["zdmax"] = max(st["zdmax"], zrow)
        if not st["maxima"] or not st["zmaxima"] or scale is None:
            return 0.0
        ref = max(statistics.median(st["maxima"]), 1.0)
        edge = max(zrow, 0.0) / max(statistics.median(st["zmaxima"]), 1.0)
        ratio = evidence / ref
        if edge < cfg.series_edge_ratio:
            ratio *= (edge / cfg.series_edge_ratio) ** cfg.series_edge_power
        st["ratio"] = ratio
        return self._decide(st, ratio, t, dt)

    def _decide(self, st: Dict[str, Any], ratio: float, t: float, dt: float) -> float:
        """Episode decision of the shared core on this row; the row's reported score."""
        life = core.Lifecycle.from_json(st["life"]) if "life" in st else core.Lifecycle.from_json(st)
        decision = core.step(life, ratio, t, self.thresholds, elapsed=dt)
        for old in ("ep", "q", "cd"):
            st.pop(old, None)
        st["life"] = life.to_json()
        return core.row_score(decision, unit_score(ratio, self.config.series_fire_ratio))
