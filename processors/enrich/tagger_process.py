"""The tagger in a child process: consumes NewsItem batches, produces their TagResults from a Tagger loaded in a process
of its own (its own interpreter lock), so tagging runs on one core while the worker's stream machinery runs on another.
A child that dies is replaced once per call and the batch retried (tagging is a pure function of the items)."""
from __future__ import annotations

import ctypes
import logging
import multiprocessing
import signal
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, List, Optional, Sequence

log = logging.getLogger(__name__)
PR_SET_PDEATHSIG = 1
_TAGGER: Any = None     # the child's Tagger


def _die_with_parent() -> None:
    """Linux: the kernel SIGKILLs this child when the worker dies, even by SIGKILL (no orphan holding the model)."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):   # not Linux: the pool's own pipe closing ends the child instead
        pass


def _load(spacy_model: str, taxonomy_dir: Optional[str], cache_dir: Optional[str] = None) -> None:
    global _TAGGER
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # a Ctrl-C stops the worker, which stops this child
    from processors.enrich.tagging import Tagger
    kw = {"cache_dir": cache_dir} if cache_dir else {}      # none given: the tagger's default cache folder
    _TAGGER = Tagger.load(spacy_model=spacy_model, taxonomy_dir=Path(taxonomy_dir) if taxonomy_dir else None, **kw)


def _ready() -> bool:
    return _TAGGER is not None


def _tag_batch(items: List[Any]) -> List[Any]:
    return _TAGGER.tag_batch(items)


class ProcessTagger:
    """`tag_batch(items)` like Tagger's, run in the child. `start()` loads the child's tagger and returns seconds."""

    def __init__(self, spacy_model: str, taxonomy_dir: Optional[Path], cache_dir: Optional[Path] = None) -> None:
        self.args = (spacy_model, str(taxonomy_dir) if taxonomy_dir else None, str(cache_dir) if cache_dir else None)
        self.pool: Optional[ProcessPoolExecutor] = None
        self.restarts = 0

    def start(self) -> float:
        t0 = time.perf_counter()
        # spawn: a fork of a worker with running threads (Kafka clients) is not safe
        self.pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                        initializer=_load, initargs=self.args)
        self.pool.submit(_ready).result()
        return time.perf_counter() - t0

    def tag_batch(self, items: Sequence[Any]) -> List[Any]:
        for attempt in (1, 2):
            if self.pool is None:
                self.start()
            try:
                return self.pool.submit(_tag_batch, list(items)).result()
            except BrokenProcessPool:
                self.restarts += 1
                log.warning("the tagger process died (restart %d); starting a new one for a batch of %d items",
                            self.restarts, len(items))
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.pool = None
