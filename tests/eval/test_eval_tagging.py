"""Tagging quality on ../shared corpora (bounded): Reuters-21578 countries, NEREL Russian places; asserts floors."""
from __future__ import annotations

from pathlib import Path

import pytest

from processors.enrich.evaluate import FLOORS, eval_geoparsing, eval_nerel, eval_reuters

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
CORPORA = SHARED / "corpora"

pytestmark = [pytest.mark.eval,
              pytest.mark.skipif(not CORPORA.is_dir(), reason="../shared/corpora not present")]


@pytest.fixture(scope="module")
def tagger():
    from processors.enrich.tagging import Tagger
    t = Tagger.load()
    t.max_evidence = 10_000
    return t


@pytest.mark.skipif(not (CORPORA / "reuters21578" / "dev.jsonl").exists(), reason="Reuters not present")
def test_reuters_country_f1(tagger) -> None:
    r = eval_reuters(tagger, SHARED, limit=1000)
    assert r["docs"] == 1000
    # the project floor, asserted on these 1000 docs: measured 0.9208 here (0.9354 on all 8,775 docs with
    # `surgewatch eval tagging`)
    assert r["f1"] >= FLOORS["reuters_f1"], r


@pytest.mark.skipif(not (CORPORA / "nerel" / "dev.jsonl").exists(), reason="NEREL not present")
def test_nerel_country_and_federal_subjects(tagger) -> None:
    n = eval_nerel(tagger, SHARED)
    assert n["country"]["gold"] > 700 and n["state_or_province_ru"]["gold"] > 80
    assert n["country"]["precision"] >= FLOORS["nerel_country_p"], n
    assert n["country"]["recall"] >= FLOORS["nerel_country_r"], n
    assert n["state_or_province_ru"]["precision"] >= FLOORS["nerel_subject_p"], n
    assert n["state_or_province_ru"]["recall"] >= FLOORS["nerel_subject_r"], n
    # the same on gold mapped without the tagger (taxonomy/eval/nerel_subjects.yaml): measured P 0.9216, R 0.9500
    honest = n["state_or_province_ru_independent"]
    assert honest["gold"] > 80
    assert honest["precision"] >= FLOORS["nerel_subject_independent_p"], n
    assert honest["recall"] >= FLOORS["nerel_subject_independent_r"], n

    # NEREL CITY at the span level on gold mapped without the tagger (taxonomy/eval/nerel_cities.yaml):
    # measured P 0.9146, R 0.9150 (the target of 0.90 / 0.90 is met)
    city = n["city_independent"]
    assert city["gold"] > 350
    assert city["precision"] >= FLOORS["nerel_city_p"], city
    assert city["recall"] >= FLOORS["nerel_city_r"], city


@pytest.mark.skipif(not (CORPORA / "geoparsing" / "lgl.jsonl").exists(), reason="geoparsing corpora not present")
def test_toponym_coverage_and_accuracy(tagger) -> None:
    # all docs of GeoWebNews, LGL and TR-News; measured (coverage / accuracy): GWN 0.9547 / 0.9908,
    # LGL 0.7737 / 0.9527, TR-News 0.9011 / 0.9456 (the target is 0.90 / 0.95: LGL coverage and
    # TR-News accuracy not met)
    g = eval_geoparsing(tagger, SHARED)
    for name in ("geowebnews", "lgl", "trnews"):
        assert g[name]["gold_toponyms"] > 1000, g
        assert g[name]["coverage"] >= FLOORS[f"{name}_coverage"], (name, g[name])
        assert g[name]["accuracy"] >= FLOORS[f"{name}_accuracy"], (name, g[name])
