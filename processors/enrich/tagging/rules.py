"""Community and topic rules: consumes taxonomy YAML and tokenised fields, produces an item's community/topic Tags.

English by compiled regexes, Russian by lemma phrases."""
from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Set, Tuple

from spacy.language import Language
from spacy.matcher import PhraseMatcher

from processors.enrich.tagging.mentions import Field
from processors.enrich.tagging.settings import RuleConfidence
from streams.records import Evidence, Tag

log = logging.getLogger(__name__)

#: one rule hit: (field name, start, end, matched text, via an institution pattern)
Hit = Tuple[str, int, int, str, bool]


@dataclass
class RuleSet:
    """One community or topic: id, names, kind, EN regexes and RU lemma phrases."""

    id: str                      # full tag id, e.g. "community:muslims"
    name: str
    names: Dict[str, str]
    kind: Optional[str]
    en: Optional[re.Pattern[str]]
    ru_phrases: List[str] = field(default_factory=list)
    en_institution: Optional[re.Pattern[str]] = None
    ru_institution_phrases: List[str] = field(default_factory=list)
    min_hits: float = 1.0


def _compile(patterns: List[str], where: str) -> Optional[re.Pattern[str]]:
    good = []
    for p in patterns or []:
        try:
            re.compile(p)
            good.append(f"(?:{p})")
        except re.error as exc:
            log.warning("bad regex %r in %s: %s", p, where, exc)
    if not good:
        return None
    return re.compile(r"(?<![\w-])(?:" + "|".join(good) + r")(?![\w])", re.IGNORECASE)


def combined_regex(rules: List[RuleSet]) -> Optional[re.Pattern[str]]:
    """One alternation over every rule's patterns (and institution lists), so a text is scanned once per
    dimension instead of once per rule; which rules own a match is decided by their own patterns."""
    parts = []
    for rs in rules:
        for rx in (rs.en, rs.en_institution):
            if rx is None:
                continue
            inner = rx.pattern[len(r"(?<![\w-])(?:"):-len(r")(?![\w])")]
            parts.append(f"(?:{inner})")
    if not parts:
        return None
    # Applied to lower-cased text (4x faster than IGNORECASE over hundreds of alternatives, measured);
    # patterns are written in lower case. The word-start lookahead skips positions inside words.
    return re.compile(r"\b(?=\w)(?<![\w-])(?:" + "|".join(parts) + r")(?![\w])")


def load_rules(data: Dict[str, Any], prefix: str) -> List[RuleSet]:
    out: List[RuleSet] = []
    for key, spec in (data or {}).items():
        spec = spec or {}
        en_name = spec.get("en", key)
        out.append(RuleSet(
            id=f"{prefix}:{key}", name=en_name, names={"en": en_name, "ru": spec.get("ru", en_name)},
            kind=spec.get("kind"),
            en=_compile(list(spec.get("patterns_en") or []), f"{prefix}:{key}"),
            ru_phrases=[str(p) for p in spec.get("patterns_ru") or []],
            en_institution=_compile(list(spec.get("institutions_en") or []), f"{prefix}:{key}"),
            ru_institution_phrases=[str(p) for p in spec.get("institutions_ru") or []],
            min_hits=float(spec.get("min_hits", 1)),
        ))
    return out


class RuleMatcher:
    """Community and topic Tags of an item: English by the combined regex of a dimension, Russian by lemma
    phrases (PhraseMatcher on NORM, the Russian pipeline's lemmas)."""

    def __init__(self, nlp_ru: Language, dimensions: List[List[RuleSet]], confidence: RuleConfidence) -> None:
        self.nlp_ru = nlp_ru
        self.conf = confidence
        self.m_ru = PhraseMatcher(nlp_ru.vocab, attr="NORM")
        self._combined: Dict[str, Tuple[Optional[re.Pattern[str]], Dict[str, List[Tuple[str, bool]]]]] = {}
        for rules in dimensions:
            for rs in rules:
                if rs.ru_phrases:
                    self.m_ru.add(rs.id, [nlp_ru(p) for p in rs.ru_phrases])
                if rs.ru_institution_phrases:
                    self.m_ru.add(rs.id + "#inst", [nlp_ru(p) for p in rs.ru_institution_phrases])
            if rules:
                self._combined[_dimension(rules[0].id)] = (combined_regex(rules), {})

    def apply(self, rules: List[RuleSet], fields: List[Field], route: str, max_evidence: int,
              trace: Optional[List[Dict[str, Any]]] = None) -> List[Tag]:
        """Tags of the rules of one dimension (all communities or all topics) that reach their min_hits."""
        if not rules:
            return []
        dim = _dimension(rules[0].id)
        hits = self._hits_ru(fields, dim) if route == "ru" else self._hits_en(rules, fields, dim)
        out: List[Tag] = []
        for rs in rules:
            if hits.get(rs.id):
                tag = self._tag(rs, _non_overlapping(hits[rs.id]), max_evidence, trace)
                if tag is not None:
                    out.append(tag)
        out.sort(key=lambda t: -t.confidence)
        return out

    def _hits_ru(self, fields: List[Field], dim: str) -> Dict[str, List[Hit]]:
        hits: Dict[str, List[Hit]] = {}
        for f in fields:
            if f.doc is None or not len(f.doc):
                continue
            for k, s, e in self.m_ru(f.doc):
                label = self.nlp_ru.vocab.strings[k]
                rid, inst = (label[:-5], True) if label.endswith("#inst") else (label, False)
                if _dimension(rid) != dim:
                    continue
                sp = f.doc[s:e]
                hits.setdefault(rid, []).append((f.name, sp.start_char, sp.end_char, sp.text, inst))
        return hits

    def _hits_en(self, rules: List[RuleSet], fields: List[Field], dim: str) -> Dict[str, List[Hit]]:
        hits: Dict[str, List[Hit]] = {}
        combined, cache = self._combined[dim]
        for f in fields:
            if not f.text or combined is None:
                continue
            low = f.text.lower()
            if len(low) != len(f.text):      # rare Unicode case changes length: keep offsets exact
                low = "".join(c.lower() if len(c.lower()) == 1 else c for c in f.text)
            for mt in combined.finditer(low):
                key = mt.group(0).lower()
                owners = cache.get(key)
                if owners is None:
                    # every rule whose own pattern matches this phrase (a word can serve two topics)
                    owners = [(rs.id, inst) for rs in rules
                              for rx, inst in ((rs.en, False), (rs.en_institution, True))
                              if rx is not None and rx.fullmatch(key)]
                    if len(cache) < 100_000:
                        cache[key] = owners
                for rid, inst in owners:
                    hits.setdefault(rid, []).append((f.name, mt.start(), mt.end(), f.text[mt.start():mt.end()], inst))
        return hits

    def _tag(self, rs: RuleSet, uniq: List[Hit], max_evidence: int,
             trace: Optional[List[Dict[str, Any]]]) -> Optional[Tag]:
        c = self.conf
        weighted = sum(c.title_weight if h[0] == "title" else 1.0 for h in uniq)
        ok = weighted >= rs.min_hits
        if trace is not None:
            trace.append({"dimension": _dimension(rs.id), "id": rs.id, "text": "; ".join(h[3] for h in uniq[:5]),
                          "field": uniq[0][0], "start": uniq[0][1], "end": uniq[0][2], "score": weighted,
                          "decision": "assigned" if ok else "rejected",
                          "why": f"{len(uniq)} pattern hit(s), weighted {weighted:g} vs min {rs.min_hits:g}"
                          + ("; via institution" if any(h[4] for h in uniq) else "")})
        if not ok:
            return None
        conf = max(c.min, min(c.max, 1 - math.exp(-c.rate * weighted)))
        ev = [Evidence(text=h[3], field=h[0], start=h[1], end=h[2]) for h in uniq[:max_evidence]]
        return Tag(id=rs.id, name=rs.name, confidence=round(conf, 3), evidence=ev, names=dict(rs.names), kind=rs.kind)


def _dimension(rule_id: str) -> str:
    return rule_id.split(":")[0]


def _non_overlapping(hits: List[Hit]) -> List[Hit]:
    """Title hits first, then by position, longest first; a hit overlapping a kept one is dropped."""
    seen: Set[Tuple[str, int, int]] = set()
    uniq: List[Hit] = []
    for h in sorted(hits, key=lambda h: (h[0] != "title", h[1], -(h[2] - h[1]))):
        if any(h[0] == s[0] and h[1] < s[2] and s[1] < h[2] for s in seen):
            continue
        seen.add((h[0], h[1], h[2]))
        uniq.append(h)
    return uniq
