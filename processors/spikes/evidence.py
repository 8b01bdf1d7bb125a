"""Evidence core: consumes a key's observed and expected counts per bucket (newest first), produces the quasi-Poisson
scan evidence, the learned overdispersion and Huber-clipped baseline updates, and its calibration against ordinary
daily peaks. Pure code, no I/O; the stream (share-of-volume expectation) and regular series (seasonal expectation
from their own history) both compute their evidence here, and decide on it through core.py."""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import List, Sequence, Tuple

from scipy.special import gammainc, ndtri

Z_CAP = 37.0   # |ndtri| of the smallest normal double
ANSCOMBE = 0.375


def anscombe(count: float) -> float:
    """Variance-stabilised count: sqrt(count + 3/8), variance about 1/4 for a Poisson count."""
    return math.sqrt(max(count, 0.0) + ANSCOMBE)


def from_anscombe(level: float) -> float:
    """The count whose Anscombe value is `level` (0 below the value of a zero count)."""
    return max(level * level - ANSCOMBE, 0.0) if level > 0 else 0.0


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


@dataclass(frozen=True)
class Window:
    """The best evidence window: its z, summed observed and expected counts, and its length in buckets."""

    z: float
    observed: float
    expected: float
    length: int


def scan(observed: Sequence[float], expected: Sequence[float], dispersion: float) -> Window:
    """Best quasi-Poisson evidence over the windows of the newest 1..len(observed) buckets (index 0 = newest bucket):
    each window's counts are summed and judged as one count; ties keep the shortest window."""
    best = Window(-math.inf, 0.0, 0.0, 1)
    x_sum = 0.0
    mu_sum = 0.0
    for m, (x, mu) in enumerate(zip(observed, expected)):
        x_sum += x
        mu_sum += mu
        z = poisson_z(x_sum, mu_sum, dispersion)
        if z > best.z:
            best = Window(z, x_sum, mu_sum, m + 1)
    return best


def smooth(previous: float, z: float, weight: float, clip: float) -> Tuple[float, float]:
    """One EWMA step (weight `weight`) of a row's z, clipped to [-5, clip]: (the new average, that average
    rescaled to unit variance under the null, i.e. the evidence of a regular series)."""
    average = (1 - weight) * previous + weight * max(min(z, clip), -5.0)
    return average, average / math.sqrt(weight / (2.0 - weight))


def share_expected(share: float, others: float) -> float:
    """Expected count of a key holding `share` of the volume, given the count of everything else (its own surge
    does not inflate its expectation); the share is capped at 0.95."""
    s = min(share, 0.95)
    return s / (1.0 - s) * others


def decayed(total: float, steps: float, decay: float) -> float:
    """A decayed sum carried `steps` buckets forward."""
    return total * decay ** steps


def learn_dispersion(dispersion: float, observed: float, expected: float, weight: float, cap: float) -> float:
    """One EWMA step of the overdispersion (variance ratio on the Anscombe scale): the squared Poisson residual,
    kept within [1, cap], enters with `weight`."""
    z0 = anscombe_z(observed, expected, 1.0)
    return (1 - weight) * dispersion + weight * min(max(z0 * z0, 1.0), cap)


def huber_bound(expected: float, dispersion: float, huber_z: float) -> float:
    """The largest count a baseline learns from: `huber_z` quasi-Poisson standard deviations above `expected` on the
    Anscombe scale (a burst barely moves the baseline)."""
    return (math.sqrt(expected + 0.375) + huber_z * math.sqrt(dispersion) / 2.0) ** 2 - 0.375


def learn(dispersion: float, observed: float, expected: float, weight: float, cap: float,
          huber_z: float) -> Tuple[float, float]:
    """What a baseline learns from one finished bucket: (the dispersion after it, the count clipped to the Huber
    bound of the dispersion before it)."""
    bound = huber_bound(expected, dispersion, huber_z)
    return learn_dispersion(dispersion, observed, expected, weight, cap), min(observed, bound)


def huber(residual: float, bound: float) -> float:
    """A residual clipped to +-bound."""
    return max(-bound, min(bound, residual))


# ------------------------------------------------------------------------------------------------ calibration

def reference(maxima: Sequence[float]) -> float:
    """How big an ordinary day's peak evidence is: the median of recent daily maxima, at least 1."""
    return max(statistics.median(maxima), 1.0)


def calibrate(evidence: float, maxima: Sequence[float], edge_z: float, edge_maxima: Sequence[float],
              edge_ratio: float, edge_power: float) -> float:
    """Self-calibrated evidence: the evidence over an ordinary day's peak. A row whose own z is below `edge_ratio`
    times an ordinary day's most extreme row z has its ratio discounted by (edge / edge_ratio) ** edge_power, so
    alerts land on rows that are themselves extreme (a burst's rising edge, not its decaying tail)."""
    ratio = evidence / reference(maxima)
    edge = max(edge_z, 0.0) / reference(edge_maxima)
    if edge < edge_ratio:
        ratio *= (edge / edge_ratio) ** edge_power
    return ratio


def push_maximum(maxima: List[float], value: float, keep: int) -> List[float]:
    """The last `keep` daily maxima after a day's maximum is added (rounded, as stored)."""
    return (maxima + [round(value, 4)])[-keep:]
