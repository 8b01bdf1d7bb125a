"""Lane merge: consumes the LaneOutcomes of N detector lanes (news.counts partitions) in any interleaving, produces
each item's outcome -- every lane's part of it together -- in (published_at, item_id) order once every lane has got
past it, and runs the incident tracker on them. Pure code; its state is typed and kept in a caller-supplied mapping.

Every lane counts the volume of every item, so each lane handles every item, in the same event-time order: a lane
whose outcome or marker is at a position has handled every item before it. Each outcome carries its lane's sequence
number (items handled, kept in the lane's state): a lane restarted from older state sends the same numbers again, and
what was seen already is dropped."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, MutableMapping, Optional, Tuple

from processors.spikes.incidents import IncidentTracker, canonical
from processors.spikes.state import StateVersionError
from streams.records import Alert, Incident, KeyedAlert, LaneOutcome, parse_time

MERGE_KEY = "__merge__"
MERGE_STATE_VERSION = 1

Position = Tuple[float, str]


def position(outcome: LaneOutcome) -> Position:
    return parse_time(outcome.published_at).timestamp(), outcome.item_id


@dataclass
class MergeState:
    """How far each lane has got (position, sequence number); what was released."""

    frontier: Dict[str, List[Any]] = field(default_factory=dict)   # lane -> [timestamp, item id]
    seq: Dict[str, int] = field(default_factory=dict)              # lane -> last sequence number taken
    version: int = MERGE_STATE_VERSION

    def to_json(self) -> Dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Optional[Dict[str, Any]]) -> "MergeState":
        if not data:
            return cls()
        if int(data.get("version", 1)) > MERGE_STATE_VERSION:
            raise StateVersionError(f"merge state version {data['version']} is newer than {MERGE_STATE_VERSION}: "
                                    "upgrade this worker")
        return cls(frontier=dict(data.get("frontier", {})), seq={k: int(v) for k, v in data.get("seq", {}).items()})


class LaneMerge:
    """Holds lane outcomes until every lane has passed them; then groups them into incidents, in order."""

    def __init__(self, lanes: int, states: MutableMapping[str, Any], tracker: IncidentTracker) -> None:
        self.lanes, self.states, self.tracker = int(lanes), states, tracker
        self.held: Dict[Tuple[Position, int], LaneOutcome] = {}
        self.duplicates = 0

    def state(self) -> MergeState:
        return MergeState.from_json(self.states.get(MERGE_KEY))

    def add(self, outcome: LaneOutcome) -> List[Tuple[List[Alert], List[Incident]]]:
        """Take one outcome (or marker) of a lane; return the (alerts, incident revisions) of each item it releases,
        in order."""
        st = self.state()
        lane = str(outcome.lane)
        pos = position(outcome)
        if not outcome.marker:
            if outcome.seq <= st.seq.get(lane, -1):
                self.duplicates += 1
                return []
            st.seq[lane] = outcome.seq
            self.held[(pos, outcome.lane)] = outcome
        old = st.frontier.get(lane)
        if old is None or tuple(old) < pos:
            st.frontier[lane] = [pos[0], pos[1]]
        released = self._release(st)
        self.states[MERGE_KEY] = st.to_json()
        return released

    def _release(self, st: MergeState) -> List[Tuple[List[Alert], List[Incident]]]:
        if len(st.frontier) < self.lanes:
            return []
        upto = min(tuple(f) for f in st.frontier.values())
        ready = sorted(k for k in self.held if k[0] <= upto)
        out: List[Tuple[List[Alert], List[Incident]]] = []
        i = 0
        while i < len(ready):
            pos = ready[i][0]
            group = []
            while i < len(ready) and ready[i][0] == pos:
                group.append(self.held.pop(ready[i]))
                i += 1
            out.append(self.group(group))
        return out

    def group(self, parts: List[LaneOutcome]) -> Tuple[List[Alert], List[Incident]]:
        """One item's outcome from all lanes that had one: into the tracker (alerts stamped in place)."""
        keyed: List[KeyedAlert] = [k for p in parts for k in p.alerts]
        progress: Dict[str, List[str]] = {}
        for p in parts:
            for key, ids in p.progress.items():
                progress.setdefault(key, []).extend(ids)
        records = self.tracker.observe_item(keyed, progress)
        return [k.alert for k in canonical(keyed)], records
