"""The tagger's child process: consumes NewsItems, asserts the child tags them and is replaced when it dies, tagging
the same again (a real spawned process, no mocks)."""
from __future__ import annotations

import os
import signal

from processors.enrich.tagger_process import ProcessTagger
from streams.records import NewsItem

ITEMS = [NewsItem(id="a1", title="Muslims in Grozny collect aid for Gaza", text="Chechnya's muftiate opened a fund.",
                  published_at="2023-11-08T09:00:00Z"),
         NewsItem(id="a2", title="Митинг в Махачкале", text="Жители Дагестана вышли на площадь.",
                  published_at="2023-11-08T10:00:00Z")]


def _child_pids(tagger: ProcessTagger) -> list[int]:
    return list(tagger.pool._processes) if tagger.pool is not None else []


def test_child_tags_and_is_replaced_when_killed() -> None:
    tagger = ProcessTagger("en_core_web_sm", None)
    try:
        assert tagger.start() > 0
        first = tagger.tag_batch(ITEMS)
        assert [r.language for r in first] == ["en", "ru"]
        assert "region:ru-ce" in first[0].tag_ids()["regions"] and "region:ru-da" in first[1].tag_ids()["regions"]
        (pid,) = _child_pids(tagger)
        os.kill(pid, signal.SIGKILL)
        again = tagger.tag_batch(ITEMS)      # the dead child is replaced, the batch retried
        assert [r.tag_ids() for r in again] == [r.tag_ids() for r in first]
        assert tagger.restarts == 1 and _child_pids(tagger) != [pid]
    finally:
        tagger.close()
