"""Region salience: consumes an item's resolved Mentions, produces the region Tags it is about and those it mentions.

Each accepted mention adds a weight to its place (by alias type; title, dateline and lead weigh more; a
currency amount or a company name weighs nothing); a place also counts a share of its mentioned descendants.
Places over an absolute and a relative score are what the item is about; every item is about its top place.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from processors.enrich.tagging.gazetteer import Gazetteer
from processors.enrich.tagging.mentions import Mention
from processors.enrich.tagging.settings import TaggerSettings
from streams.records import Evidence, Tag

_NER_PLACE_LABELS = ("GPE", "LOC", "NORP", "FAC")


class Salience:
    """Splits accepted places into `regions` (about) and `mentioned_regions`; weights from tagging.yaml."""

    def __init__(self, gazetteer: Gazetteer, settings: TaggerSettings) -> None:
        self.gazetteer = gazetteer
        self.w = settings.salience
        self.conf = settings.region_confidence
        self.type_order = settings.alias_type_order

    def decide(self, ms: List[Mention], max_evidence: int,
               trace: Optional[List[Dict[str, Any]]] = None) -> Tuple[List[Tag], List[Tag]]:
        by_id: Dict[str, List[Mention]] = {}
        currency: Dict[str, List[Mention]] = {}
        for m in ms:
            if m.status == "accepted" and m.chosen:
                (currency if m.alias.atype == "currency" else by_id).setdefault(m.chosen, []).append(m)
        total = self._totals(by_id)
        about_ids = self._about(by_id, currency, total)
        regions: List[Tag] = []
        mentioned: List[Tag] = []
        for rid, mm in sorted(by_id.items(), key=lambda kv: -total[kv[0]]):
            about = rid in about_ids
            (regions if about else mentioned).append(self.region_tag(rid, mm, about, max_evidence))
        if trace is not None:
            about_tags = {t.id for t in regions}
            trace.extend(_trace_row(m, about_tags, total) for m in ms)
        return regions, mentioned

    def _weight(self, m: Mention) -> float:
        w = self.w
        if m.denomination or m.org_name:
            return 0.0
        if m.field == "title":
            return w.title          # in the title even an adjective ("SAUDI RIYAL ...") names the topic
        weight = w.alias_weight["demonym"] if m.modifier else w.alias_weight.get(m.alias.atype, w.default_weight)
        if m.dateline:
            return weight * w.dateline
        if m.start < w.lead_chars:
            return weight * w.lead
        return weight

    def _totals(self, by_id: Dict[str, List[Mention]]) -> Dict[str, float]:
        score: Dict[str, float] = {}
        for rid, mm in by_id.items():
            s = 0.0
            for m in mm:
                s += self._weight(m)
            score[rid] = s
        # mentions of a place count (a share) for its ancestors that are themselves mentioned
        total = dict(score)
        for rid in score:
            for a in self.gazetteer.chain(rid):
                if a in total:
                    total[a] += self.w.ancestor_share * score[rid]
        return total

    def _about(self, by_id: Dict[str, List[Mention]], currency: Dict[str, List[Mention]],
               total: Dict[str, float]) -> set[str]:
        top = max(total.values()) if total else 0.0
        about_ids = {rid for rid in by_id if total[rid] >= self.w.about_min and total[rid] >= self.w.about_rel * top}
        if not about_ids and by_id:
            # every item is about somewhere: promote the most salient place(s)
            about_ids = {rid for rid in by_id if total[rid] >= top - 1e-9}
        if not about_ids and currency:
            # nothing names a place: amounts in a currency point at its country (weak, fallback only)
            best_cur = max(currency.items(), key=lambda kv: len(kv[1]))
            by_id[best_cur[0]] = best_cur[1]
            total[best_cur[0]] = 0.0
            about_ids = {best_cur[0]}
        return about_ids

    def region_tag(self, rid: str, mm: List[Mention], about: bool, max_evidence: int) -> Tag:
        e = self.gazetteer.entries[rid]
        c = self.conf
        best_type = min((m.alias.atype for m in mm), key=self.type_order.index)
        conf = c.base.get(best_type, c.default_base)
        if any(m.ner in _NER_PLACE_LABELS for m in mm):
            conf += c.ner_agrees
        if all(m.resolved_by_context for m in mm):
            conf -= c.context_only_ambiguous if e.ambiguous else c.context_only
        conf += min(c.extra_mentions_max, c.per_extra_mention * (len(mm) - 1))
        if any(m.field == "title" for m in mm):
            conf += c.in_title
        if not about:
            conf *= c.mentioned_factor
        conf = max(c.min, min(c.max, conf))
        ev = [Evidence(text=m.text, field=m.field, start=m.start, end=m.end) for m in mm[:max_evidence]]
        return Tag(id=e.tag_id, name=e.name, confidence=round(conf, 3), evidence=ev, names=dict(e.names),
                   kind=e.kind, country_code=e.country_code, iso_3166_2=e.iso_3166_2, geonames_id=e.geonames_id,
                   ancestors=["region:" + a for a in self.gazetteer.chain(rid)], geo=dict(e.geo) if e.geo else None)


def _trace_row(m: Mention, about_tags: set[str], total: Dict[str, float]) -> Dict[str, Any]:
    decision = "rejected"
    if m.status == "accepted":
        decision = "about" if "region:" + (m.chosen or "") in about_tags else "mentioned"
    return {"dimension": "region", "id": ("region:" + m.chosen) if m.chosen else None,
            "candidates": ["region:" + e for e in m.entry_ids], "text": m.text, "field": m.field,
            "start": m.start, "end": m.end, "alias_type": m.alias.atype, "ner": m.ner,
            "decision": decision, "score": round(total.get(m.chosen or "", 0.0), 2), "why": m.reason}
