"""Near-duplicate story clustering: consumes (item id, title, text), produces a story id (MinHash LSH, datasketch).

The story id of an item is the id of the first item of its near-duplicate cluster (itself when new).
Memory is bounded: after `max_items` items the oldest are evicted from the LSH index.
"""
from __future__ import annotations

import logging
import re
from collections import OrderedDict
from typing import Dict, List, Optional

from datasketch import MinHash, MinHashLSH

log = logging.getLogger(__name__)

_WORD = re.compile(r"\w+", re.UNICODE)


def shingles(title: str, text: str, k: int = 3, max_words: int = 400) -> set[bytes]:
    """Word k-shingles of the normalised title + start of the text (lower case, punctuation dropped)."""
    words = _WORD.findall(((title or "") + " " + (text or "")).lower())[:max_words]
    if len(words) < k:
        return {" ".join(words).encode("utf-8")} if words else set()
    return {" ".join(words[i:i + k]).encode("utf-8") for i in range(len(words) - k + 1)}


class StoryClusterer:
    """MinHash LSH over word shingles. `story_id` is idempotent for an item id already seen."""

    def __init__(self, threshold: float = 0.6, num_perm: int = 64, max_items: int = 50_000, shingle_k: int = 3) -> None:
        self.threshold = threshold
        self.num_perm = num_perm
        self.max_items = max_items
        self.shingle_k = shingle_k
        self._lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
        self._story: "OrderedDict[str, str]" = OrderedDict()   # item id -> story id, oldest first
        self._hashes: Dict[str, MinHash] = {}

    def __len__(self) -> int:
        return len(self._story)

    def _minhash(self, title: str, text: str) -> Optional[MinHash]:
        sh = shingles(title, text, self.shingle_k)
        if not sh:
            return None
        m = MinHash(num_perm=self.num_perm)
        m.update_batch(list(sh))
        return m

    def story_id(self, item_id: str, title: str, text: str) -> str:
        if item_id in self._story:
            return self._story[item_id]
        m = self._minhash(title, text)
        if m is None:
            self._remember(item_id, item_id, None)
            return item_id
        best: Optional[str] = None
        best_j = -1.0
        for other in self._lsh.query(m):
            j = m.jaccard(self._hashes[other])
            if j >= self.threshold and j > best_j:
                best, best_j = other, j
        story = self._story.get(best, best) if best is not None else item_id
        self._remember(item_id, story, m)
        return story

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

    def cluster(self, docs: List[tuple[str, str, str]]) -> List[str]:
        return [self.story_id(i, t, x) for i, t, x in docs]
