"""Decision core: consumes one reading of a key's evidence at a time (with its thresholds), produces the calibrated
score (0.5 = fire threshold), the severity tier and the episode decision (open / escalate / hold / resolve) on a
typed, versioned lifecycle state. Pure code, no I/O; the stream, `backtest archive` and `backtest series` decide
through it, on evidence they all compute with the evidence core (evidence.py)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Dict, Optional, Tuple

from streams.records import SEVERITIES

if TYPE_CHECKING:
    from processors.spikes.detector import DetectorConfig

LIFECYCLE_VERSION = 1

# decisions of `step`
NONE = "none"            # no episode, evidence below the threshold (or a gate closed)
COOLING = "cooling"      # no episode, a resolved one's cooldown still runs
OPEN = "open"            # a new episode opens (first alert)
ESCALATE = "escalate"    # the open episode reached a higher severity tier
HOLD = "hold"            # the open episode goes on
RESOLVE = "resolve"      # the open episode was calm long enough: it ends, the cooldown starts


class LifecycleVersionError(ValueError):
    """Lifecycle state written by a newer version than this code understands."""


@dataclass(frozen=True)
class Thresholds:
    """What a detector's evidence is judged against; `quiet` and `cooldown` are in the caller's time unit (buckets
    for count streams, seconds for regular series), the same unit as `now` and `elapsed` given to `step`."""

    fire: float                       # evidence that opens an episode (score 0.5)
    resolve: float                    # evidence below this is calm
    quiet: float                      # calm this long resolves an open episode
    cooldown: float                   # no new episode up to this long after a resolution
    tiers: Tuple[float, ...] = ()     # evidence of each severity tier (SEVERITIES order); () = no tiers


def stream_thresholds(cfg: "DetectorConfig") -> Thresholds:
    """Count streams: evidence is the scan z, time is in buckets."""
    return Thresholds(cfg.fire_z, cfg.resolve_z, cfg.quiet_buckets, cfg.cooldown_buckets, tuple(cfg.severity_z))


def series_thresholds(cfg: "DetectorConfig") -> Thresholds:
    """Regular series: evidence is the self-calibrated ratio, time is in seconds, no severity tiers."""
    return Thresholds(cfg.series_fire_ratio, cfg.series_resolve_ratio, cfg.series_quiet_seconds,
                      cfg.series_cooldown_seconds)


@dataclass
class Lifecycle:
    """A key's episode lifecycle: open or not, how long it has been calm, when its cooldown ends, its tier."""

    open: bool = False
    quiet: float = 0
    cooldown_until: Optional[float] = None
    severity: Optional[str] = None

    def to_json(self) -> Dict[str, Any]:
        return {"version": LIFECYCLE_VERSION, "open": self.open, "quiet": self.quiet,
                "cooldown_until": self.cooldown_until, "severity": self.severity}

    @classmethod
    def from_json(cls, d: Dict[str, Any]) -> "Lifecycle":
        """This version's JSON, or the series detector's one-letter keys (ep / q / cd) from before it."""
        if "version" not in d:
            return cls(bool(d.get("ep", 0)), d.get("q", 0.0), d.get("cd"))
        if int(d["version"]) > LIFECYCLE_VERSION:
            raise LifecycleVersionError(f"lifecycle state version {d['version']} is newer than {LIFECYCLE_VERSION}")
        return cls(bool(d["open"]), d["quiet"], d["cooldown_until"], d.get("severity"))


def unit_score(z: float, fire_z: float) -> float:
    """Map evidence to [0, 1): monotone, exactly 0.5 at fire_z (the alert threshold)."""
    if z <= 0.0:
        return 0.0
    r = (z / fire_z) ** 2
    return r / (1.0 + r)


def severity_of(z: float, tiers: Tuple[float, ...]) -> Optional[str]:
    """Severity tier for an evidence value, or None below the lowest tier."""
    sev: Optional[str] = None
    for name, threshold in zip(SEVERITIES, tiers):
        if z >= threshold:
            sev = name
    return sev


def severity_rank(severity: Optional[str]) -> int:
    return -1 if severity is None else SEVERITIES.index(severity)


def is_calm(evidence: float, th: Thresholds) -> bool:
    """A reading below the resolve level: it counts toward resolving an open episode."""
    return evidence < th.resolve


def cooling(life: Lifecycle, now: float) -> bool:
    """True while a resolved episode's cooldown runs (up to and including `cooldown_until`)."""
    return life.cooldown_until is not None and now <= life.cooldown_until


def _start(life: Lifecycle, evidence: float, th: Thresholds) -> str:
    life.open, life.quiet = True, 0
    life.severity = severity_of(evidence, th.tiers) or (SEVERITIES[0] if th.tiers else None)
    return OPEN


def _escalate(life: Lifecycle, evidence: float, th: Thresholds) -> str:
    sev = severity_of(evidence, th.tiers)
    if sev is not None and severity_rank(sev) > severity_rank(life.severity):
        life.severity = sev
        return ESCALATE
    return HOLD


def _calm(life: Lifecycle, evidence: float, now: float, elapsed: float, th: Thresholds) -> str:
    life.quiet = life.quiet + elapsed if is_calm(evidence, th) else 0
    if life.quiet < th.quiet:
        return HOLD
    life.open, life.severity = False, None
    life.cooldown_until = now + th.cooldown
    return RESOLVE


def step(life: Lifecycle, evidence: float, now: float, th: Thresholds, elapsed: Optional[float] = None,
         gates_ok: bool = True) -> str:
    """One reading of a key's evidence at time `now`; updates `life` and returns the decision.

    Without an episode: OPEN when the evidence reaches `th.fire`, the caller's gates (enough stories, history)
    hold and no cooldown runs. With one: a reading over a completed interval (`elapsed` given) counts calm time
    and RESOLVEs after `th.quiet` of it (the cooldown runs to now + th.cooldown); a reading of an interval still
    filling (`elapsed` None) may ESCALATE to a higher severity tier."""
    if not life.open:
        if cooling(life, now):
            return COOLING
        if evidence < th.fire or not gates_ok:
            return NONE
        return _start(life, evidence, th)
    if elapsed is None:
        return _escalate(life, evidence, th)
    return _calm(life, evidence, now, elapsed, th)


def row_score(decision: str, score: float) -> float:
    """The score a regular-series row reports: >= 0.5 only on the row that opens an episode, below it inside one
    (halved) and elsewhere."""
    if decision == OPEN:
        return max(score, 0.5)
    if decision in (HOLD, RESOLVE, ESCALATE):
        return min(score, 0.49) * 0.5
    return min(score, 0.4999)
