"""The gazetteer cache: a hit gives what the build gives, a changed key rebuilds, a corrupt file rebuilds."""
from __future__ import annotations

import logging
import pickle
import shutil
from pathlib import Path

import pytest

from processors.enrich.tagging import cache
from processors.enrich.tagging.gazetteer import Gazetteer, Taxonomy
from processors.enrich.taxonomy import TAXONOMY_DIR


class Built:
    """A small stand-in for the gazetteer: counts its builds."""
    builds = 0

    def __init__(self, value: str) -> None:
        Built.builds += 1
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Built) and other.value == self.value


@pytest.fixture(autouse=True)
def _reset() -> None:
    Built.builds = 0


def test_hit_returns_an_equal_object_without_building(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "obj.pickle"
    first = cache.cached(path, lambda: Built("a"))
    second = cache.cached(path, lambda: Built("b"))
    assert first == second == Built("a") and Built.builds == 3 - 1     # the hit did not call its build
    assert [p.name for p in path.parent.iterdir()] == ["obj.pickle"]  # no temporary file left behind


def test_changed_key_rebuilds(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.yaml").write_text("x: 1")
    k1 = cache.key_of([src], ["pkg=1"])
    assert cache.key_of([src], ["pkg=1"]) == k1
    assert cache.key_of([src], ["pkg=2"]) != k1                    # a package version
    (src / "a.yaml").write_text("x: 2")
    k2 = cache.key_of([src], ["pkg=1"])
    assert k2 != k1                                                  # a file's content
    (src / "b.yaml").write_text("")
    assert cache.key_of([src], ["pkg=1"]) != k2                    # a new file
    cache.cached(tmp_path / f"{k1}.pickle", lambda: Built("old"))
    assert cache.cached(tmp_path / f"{k2}.pickle", lambda: Built("new")) == Built("new")


@pytest.mark.parametrize("content", [b"", b"garbage", pickle.dumps(Built("a"))[:10]])
def test_corrupt_file_rebuilds_with_a_warning(tmp_path: Path, content: bytes, caplog) -> None:
    path = tmp_path / "obj.pickle"
    path.write_bytes(content)
    with caplog.at_level(logging.WARNING):
        assert cache.cached(path, lambda: Built("a")) == Built("a")
    assert "unreadable" in caplog.text
    assert cache.cached(path, lambda: Built("b")) == Built("a")     # rewritten whole


def test_unwritable_directory_still_builds(tmp_path: Path, caplog) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with caplog.at_level(logging.WARNING):
        assert cache.cached(blocker / "obj.pickle", lambda: Built("a")) == Built("a")
    assert "not written" in caplog.text


def test_gazetteer_key_follows_the_taxonomy_files(tmp_path: Path) -> None:
    d = tmp_path / "taxonomy"
    shutil.copytree(TAXONOMY_DIR, d, ignore=shutil.ignore_patterns("__pycache__"))
    k = cache.gazetteer_key(Taxonomy.load(d))
    assert cache.gazetteer_key(Taxonomy.load(d)) == k
    with (d / "regions.yaml").open("a") as f:
        f.write("\n# a comment\n")
    assert cache.gazetteer_key(Taxonomy.load(d)) != k


def _state(g: Gazetteer) -> dict:
    return {k: v for k, v in g.__dict__.items() if k not in ("taxonomy", "_morph_analyzer")}


def test_real_gazetteer_from_cache_equals_the_built_one(tmp_path: Path, monkeypatch) -> None:
    """Builds the real gazetteer once (tens of seconds), then reads it back."""
    taxonomy = Taxonomy.load()
    key = cache.gazetteer_key(taxonomy)
    monkeypatch.setattr(cache, "gazetteer_key", lambda t: key)   # a source edited meanwhile must not miss the hit
    built = cache.load_gazetteer(taxonomy, tmp_path)
    [written] = list(tmp_path.iterdir())
    assert written.name == f"gazetteer-{key}.pickle"
    read = cache.load_gazetteer(taxonomy, tmp_path)
    assert read is not built and read.taxonomy is taxonomy and read._morph_analyzer is None
    assert _state(read) == _state(built)
    first = next(iter(built.entries))
    assert read.chain(first) == built.chain(first)


def test_prune_keeps_the_newest_files(tmp_path: Path) -> None:
    import os
    for i in range(6):
        p = tmp_path / f"gazetteer-{i}.pickle"
        p.write_bytes(b"x")
        os.utime(p, (1000 + i, 1000 + i))
    (tmp_path / "other.txt").write_text("")
    cache.prune(tmp_path, "gazetteer-*.pickle", keep=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gazetteer-4.pickle", "gazetteer-5.pickle", "other.txt"]
