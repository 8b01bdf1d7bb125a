"""Write-back detector state: consumes the spike processor's reads and writes of its state table, produces one table
write (one changelog message) per key changed since the last flush instead of one per count event. Pure code.

The hot keys ("all", the meta state, a surging region) change with nearly every item; their states are the largest.
The owner flushes before it acknowledges the events whose changes are buffered, so a crash re-delivers exactly what
the changelog does not hold yet."""
from __future__ import annotations

from typing import Any, Dict, Iterator, MutableMapping

_MISSING = object()


class WriteBack(MutableMapping[str, Any]):
    """A mapping over `table`: reads see buffered writes first; `flush()` writes them to the table."""

    def __init__(self, table: MutableMapping[str, Any]) -> None:
        self.table = table
        self.dirty: Dict[str, Any] = {}

    def __getitem__(self, key: str) -> Any:
        value = self.dirty.get(key, _MISSING)
        return self.table[key] if value is _MISSING else value

    def get(self, key: str, default: Any = None) -> Any:
        value = self.dirty.get(key, _MISSING)
        return self.table.get(key, default) if value is _MISSING else value

    def __setitem__(self, key: str, value: Any) -> None:
        self.dirty[key] = value

    def __delitem__(self, key: str) -> None:
        found = self.dirty.pop(key, _MISSING) is not _MISSING
        if key in self.table:
            del self.table[key]
        elif not found:
            raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        yield from self.dirty
        yield from (k for k in list(self.table.keys()) if k not in self.dirty)

    def __len__(self) -> int:
        return len(self.dirty) + sum(1 for k in self.table.keys() if k not in self.dirty)

    def flush(self) -> int:
        """Write every buffered change to the table; returns how many keys were written."""
        n = len(self.dirty)
        for key, value in self.dirty.items():
            self.table[key] = value
        self.dirty.clear()
        return n

    def discard(self) -> None:
        """Forget buffered changes (their events were not acknowledged: they come again)."""
        self.dirty.clear()


class Prefixed(MutableMapping[str, Any]):
    """One detector lane's view of a table shared by several lanes: its keys carry the lane's prefix."""

    def __init__(self, table: MutableMapping[str, Any], prefix: str) -> None:
        self.table, self.prefix = table, prefix

    def __getitem__(self, key: str) -> Any:
        return self.table[self.prefix + key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.table.get(self.prefix + key, default)

    def __setitem__(self, key: str, value: Any) -> None:
        self.table[self.prefix + key] = value

    def __delitem__(self, key: str) -> None:
        del self.table[self.prefix + key]

    def __iter__(self) -> Iterator[str]:
        n = len(self.prefix)
        yield from (k[n:] for k in list(self.table.keys()) if isinstance(k, str) and k.startswith(self.prefix))

    def __len__(self) -> int:
        return sum(1 for _ in self)


def lane_prefix(lane: int, lanes: int) -> str:
    """Table key prefix of a detector lane: none with one lane (the state of a single detector, as before lanes)."""
    return "" if lanes <= 1 else f"lane{lane}/"
