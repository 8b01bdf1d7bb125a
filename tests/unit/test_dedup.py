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


def test_near_duplicate_keys_depend_on_the_item_alone() -> None:
    from processors.enrich.dedup import DUP_BANDS, dup_keys
    copy = BASE.replace("Wednesday", "Wednesday evening") + " (Reporting by staff)"
    other = ("The central bank of Japan raised interest rates by a quarter point citing inflation and a weak yen, "
             "analysts said on Tuesday after the policy meeting in Tokyo.")
    keys = dup_keys("Muslims rally in Grozny", BASE)
    assert len(keys) == DUP_BANDS == len(set(keys))
    # what a clusterer has seen before changes the story id, never the keys
    fresh, used = StoryClusterer(), StoryClusterer()
    used.story_id("z", "Muslims rally in Grozny", BASE)
    assert fresh.assign("b", "Muslims rally in Grozny", copy)[1] == used.assign("b", "Muslims rally in Grozny", copy)[1]
    assert fresh.story_id("b", "Muslims rally in Grozny", copy) == "b" != used.story_id("b", "Muslims rally in Grozny", copy)
    assert set(keys) & set(dup_keys("Muslims rally in Grozny", copy))
    assert not set(keys) & set(dup_keys("Bank raises rates", other))
    assert dup_keys("", "") == []
