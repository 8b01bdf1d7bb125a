"""Near-duplicate story clustering: consumes (item id, title, text), produces a story id (MinHash LSH, datasketch)
and the item's near-duplicate keys.

The story id of an item is the id of the first item of its near-duplicate cluster (itself when new): it depends on
what this process has seen before, so it serves display and search. The near-duplicate keys depend on the item
alone (LSH band digests of its MinHash, the same in every process): two items sharing a key are near-duplicates,
which lets the spike detector count distinct stories whatever the arrival order, the worker or a restart.
Memory is bounded: after `max_items` items the oldest are evicted from the LSH index.
"""
from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from typing import Dict, List, Optional, Tuple

from datasketch import MinHash, MinHashLSH

_WORD = re.compile(r"\w+", re.UNICODE)

NUM_PERM = 64
DUP_BANDS = 12      # near-duplicate keys per item: LSH bands of DUP_ROWS MinHash values each
DUP_ROWS = 5        # P(two items share a key) = 1 - (1 - J**5)**12: 0.99 at Jaccard 0.8, 0.62 at 0.6, 0.03 at 0.3


def shingles(title: str, text: str, k: int = 3, max_words: int = 400) -> set[bytes]:
    """Word k-shingles of the normalised title + start of the text (lower case, punctuation dropped)."""
    words = _WORD.findall(((title or "") + " " + (text or "")).lower())[:max_words]
    if len(words) < k:
        return {" ".join(words).encode("utf-8")} if words else set()
    return {" ".join(words[i:i + k]).encode("utf-8") for i in range(len(words) - k + 1)}


def minhash(title: str, text: str, k: int = 3, num_perm: int = NUM_PERM) -> Optional[MinHash]:
    """MinHash of the word k-shingles (datasketch's fixed seed: the same values in every process), None if empty."""
    sh = shingles(title, text, k)
    if not sh:
        return None
    m = MinHash(num_perm=num_perm)
    m.update_batch(list(sh))
    return m


def band_keys(m: Optional[MinHash], bands: int = DUP_BANDS, rows: int = DUP_ROWS) -> List[str]:
    """LSH band digests of a MinHash (48-bit, band number included): near-duplicates share at least one."""
    if m is None:
        return []
    hv = m.hashvalues
    if len(hv) < bands * rows:
        raise ValueError(f"{bands} bands of {rows} rows need {bands * rows} permutations, the MinHash has {len(hv)}")
    return [hashlib.blake2b(bytes([b]) + hv[b * rows:(b + 1) * rows].tobytes(), digest_size=6).hexdigest()
            for b in range(bands)]


def dup_keys(title: str, text: str) -> List[str]:
    """The near-duplicate keys of one item (see the module docstring)."""
    return band_keys(minhash(title, text))


class StoryClusterer:
    """MinHash LSH over word shingles. `story_id` is idempotent for an item id already seen."""

    def __init__(self, threshold: float = 0.6, num_perm: int = NUM_PERM, max_items: int = 50_000,
                 shingle_k: int = 3) -> None:
        self.threshold = threshold
        self.num_perm = num_perm
        self.max_items = max_items
        self.shingle_k = shingle_k
        self._lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
        self._story: "OrderedDict[str, str]" = OrderedDict()   # item id -> story id, oldest first
        self._hashes: Dict[str, MinHash] = {}

    def __len__(self) -> int:
        return len(self._story)

    def story_id(self, item_id: str, title: str, text: str) -> str:
        return self.assign(item_id, title, text)[0]

    def assign(self, item_id: str, title: str, text: str) -> Tuple[str, List[str]]:
        """(story id, near-duplicate keys) of an item; the story id is idempotent for an item id already seen."""
        m = self._hashes.get(item_id) if item_id in self._story else minhash(title, text, self.shingle_k, self.num_perm)
        keys = band_keys(m)
        if item_id in self._story:
            return self._story[item_id], keys
        if m is None:
            self._remember(item_id, item_id, None)
            return item_id, keys
        best: Optional[str] = None
        best_j = -1.0
        for other in self._lsh.query(m):
            j = m.jaccard(self._hashes[other])
            if j >= self.threshold and j > best_j:
                best, best_j = other, j
        story = self._story.get(best, best) if best is not None else item_id
        self._remember(item_id, story, m)
        return story, keys

    def _remember(self, item_id: str, story: str, m: Optional[MinHash]) -> None:
        self._story[item_id] = story
        if m is not None:
            self._lsh.insert(item_id, m)
            self._hashes[item_id] = m
        while len(self._story) > self.max_items:
            old, _ = self._story.popitem(last=False)
            if old in self._hashes:
                self._lsh.remove(old)
                del self._hashes[old]
