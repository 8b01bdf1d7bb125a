"""Near-duplicate story clustering (MinHash LSH)."""
from __future__ import annotations

from processors.enrich.dedup import StoryClusterer

BASE = ("Thousands of Muslims rallied in Grozny on Wednesday in solidarity with Palestinians in Gaza, "
        "as the Chechen leader pledged humanitarian aid and called for donations at the central mosque.")


def test_syndicated_copy_joins_first_story() -> None:
    c = StoryClusterer()
    assert c.story_id("a", "Muslims rally in Grozny", BASE) == "a"
    copy = BASE.replace("Wednesday", "Wednesday evening") + " (Reporting by staff)"
    assert c.story_id("b", "Muslims rally in Grozny", copy) == "a"
    assert c.story_id("c", "Bank raises rates", "The central bank of Japan raised interest rates by a quarter point "
                                                 "citing inflation and a weak yen, analysts said.") == "c"


def test_idempotent_for_seen_id() -> None:
    c = StoryClusterer()
    c.story_id("a", "t", BASE)
    assert c.story_id("a", "different", "entirely different text now") == "a"


def test_bounded_memory_evicts_oldest() -> None:
    c = StoryClusterer(max_items=3)
    for i in range(5):
        c.story_id(f"x{i}", f"title {i}", f"unique text number {i} " * 5 + f"word{i} other{i} more{i}")
    assert len(c) == 3
    # the evicted first item no longer attracts its duplicate
    assert c.story_id("dup", "title 0", "unique text number 0 " * 5 + "word0 other0 more0") == "dup"


def test_empty_text_is_its_own_story() -> None:
    c = StoryClusterer()
    assert c.story_id("e", "", "") == "e"
