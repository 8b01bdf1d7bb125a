"""NEREL scoring without the tagger: the independent subject table and the span counting rules."""
from __future__ import annotations

from types import SimpleNamespace

import pycountry
import yaml

from processors.enrich.evaluate_nerel import _UNSCORED, SUBJECT_TABLE, _Count


def test_subject_table_maps_wikidata_items_to_known_iso_codes() -> None:
    table = yaml.safe_load(SUBJECT_TABLE.read_text(encoding="utf-8"))
    subjects, other = table["subjects"], table["other"]
    assert len(subjects) >= 20 and not set(subjects) & set(other)
    ru_codes = {s.code for s in pycountry.subdivisions.get(country_code="RU")} | {"UA-43", "UA-40"}
    for qid, v in subjects.items():
        assert qid.startswith("Q") and qid[1:].isdigit(), qid
        assert v["iso"] in ru_codes, (qid, v)
    assert subjects["Q5466"]["iso"] == "RU-CU"      # Чувашия
    assert subjects["Q5942"]["iso"] == "RU-ALT" and subjects["Q5971"]["iso"] == "RU-AL"   # Altai krai / republic
    assert "Q180981" in other                        # Кировоградская область (Ukraine) is no Russian subject


def _tag(kind: str, code: str) -> SimpleNamespace:
    return SimpleNamespace(kind=kind, code=code)


def test_counts_recall_precision_and_unscored_gold() -> None:
    text = "x" * 100
    gold = [((0, 5), "A"), ((10, 15), "B"), ((20, 25), _UNSCORED)]
    preds = [((0, 5), _tag("city", "A")),      # finds gold A
             ((30, 35), _tag("city", "C")),    # overlaps no gold: false
             ((20, 25), _tag("city", "D")),    # only over unscored gold: not counted
             ((40, 45), _tag("country", "E"))]  # not a predicted span of this metric
    c = _Count(errors=5)
    c.score(text, gold, preds, lambda g, t: t.code == g, lambda t: t.kind == "city")
    assert (c.n_gold, c.tp_r, c.unscored) == (2, 1, 1)
    assert (c.n_pred, c.tp_p) == (2, 1)
    assert c.report() == {"precision": 0.5, "recall": 0.5, "gold": 2, "predicted": 2, "unscored_gold": 1}
    assert c.missed == ["xxxxx"] and len(c.false) == 1


def test_precision_rule_can_differ_from_recall_rule() -> None:
    gold = [((0, 5), "A")]
    preds = [((0, 5), _tag("city", "A-child"))]
    c = _Count()
    c.score("y" * 10, gold, preds, lambda g, t: t.code.startswith(g), lambda t: True, lambda g, t: t.code == g)
    assert (c.tp_r, c.tp_p, c.n_pred) == (1, 0, 1)


def test_city_table_maps_wikidata_items_to_geonames_cities_of_the_corpus_country() -> None:
    from processors.enrich.evaluate_nerel import CITY_TABLE

    cities = yaml.safe_load(CITY_TABLE.read_text(encoding="utf-8"))["cities"]
    assert len(cities) >= 100
    for qid, v in cities.items():
        assert qid.startswith("Q") and qid[1:].isdigit(), qid
        assert isinstance(v["geonameid"], int) and v["how"] in ("relation", "population"), (qid, v)
        assert pycountry.countries.get(alpha_2=v["country"]) is not None, (qid, v)
    assert cities["Q649"]["geonameid"] == 524901          # Москва
    assert cities["Q506411"]["country"] == "US" and cities["Q506411"]["name"] == "San Marcos"
