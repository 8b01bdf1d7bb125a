"""Region candidates: consumes a tokenised field, produces gazetteer Mentions (longest match, case and context flags).

Gazetteer aliases become PhraseMatcher patterns: English on LOWER, Russian on NORM (= pymorphy3 lemma, see
nlp.py), names that lemmatise to function words (Того -> тот) and Latin-script names in Cyrillic text on the
lower-case surface. Each mention is flagged for what the later stages weigh: dateline position, an
abbreviation used as a modifier, part of a company or agreement name, a country naming only a currency.
"""
from __future__ import annotations

import logging
import re
from typing import Dict, FrozenSet, List, Optional, Set, Tuple

from spacy.language import Language
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc

from processors.enrich.tagging.declension import case_forms
from processors.enrich.tagging.gazetteer import Alias, Gazetteer
from processors.enrich.tagging.mentions import Field, Mention
from processors.enrich.tagging.nlp import Lemmatizer
from processors.enrich.tagging.settings import TaggerSettings

log = logging.getLogger(__name__)

# "SANTA CRUZ, Calif., Feb 26 -", "LONDON, March 3 -", "SPRINGFIELD, Ill. (AP) -", "PARIS, Mo. — In 1999"
_DATELINE = re.compile(r"^\s*(?P<city>[A-Z][A-Za-z .'’&-]{1,40}?)\s*,\s*(?:"
                       r"(?:(?P<region>[A-Za-z][A-Za-z. ]{1,24}?)\s*(?:,\s*|(?<=\.)\s+))?"
                       r"(?P<date>(?i:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-zA-Z]*\.?\s+\d{1,2})\s*-"
                       r"|(?P<region2>[A-Z][A-Za-z.]{1,5}(?: [A-Z][A-Za-z.]{1,5})?)\s*(?:\(|-|—|–))")
# ", W.Va." / ", Ind." / ", IL" right after a city name
_CITY_STATE = re.compile(r"\s*,\s*([A-Z][a-z]{0,4}\.(?:\s?[A-Z][a-z]{0,4}\.)?|[A-Z]{2}\b)")
# "Lanexa, Va." / "Grand Ledge, Mich." / "Kelowna, B.C.": a capitalised word, a comma, an abbreviation with a full stop
_WORD_STATE = re.compile(r"\b[A-Z][a-z]+,\s*([A-Z][a-z]{0,4}\.(?:\s?[A-Z][a-z]{0,4}\.)?)(?=[\s,;:)]|$)")
# pymorphy3 parts of speech of a one-word Russian name matched on its exact form, not its lemma
_FUNCTION_POS = {"NPRO", "PREP", "CONJ", "PRCL", "ADVB", "PRED", "INTJ", "NUMR"}
_VERB_POS = {"VERB", "INFN", "GRND", "PRTF", "PRTS"}


class AliasMatchers:
    """PhraseMatchers over every gazetteer alias; `alias_by_key` maps a match label to its aliases."""

    def __init__(self, nlp_en: Language, nlp_ru: Language, lemmatizer: Lemmatizer, gazetteer: Gazetteer) -> None:
        self.nlp_en, self.nlp_ru, self.lemmatizer = nlp_en, nlp_ru, lemmatizer
        self.m_en = PhraseMatcher(nlp_en.vocab, attr="LOWER")
        self.m_ru = PhraseMatcher(nlp_ru.vocab, attr="NORM")
        self.m_ru_exact = PhraseMatcher(nlp_ru.vocab, attr="LOWER")
        self.alias_by_key: Dict[str, List[Alias]] = {}
        self._form_text: Dict[Tuple[str, str], str] = {}   # pattern text of a case-form group (declension.py)
        groups = self._group(gazetteer.aliases)
        for (lang, key), aliases in groups.items():
            label = f"{lang}|{key}"
            self.alias_by_key[label] = aliases
            self._add(lang, label, self._form_text.get((lang, key), aliases[0].text))
        log.info("tagger: %d alias patterns", len(groups))

    def _case_forms(self, a: Alias) -> List[str]:
        """Lower-case case forms of a Russian name whose last word pymorphy3 does not know: it guesses another
        lemma for each of their forms (Тусоне -> тусоня), so they are matched on their exact form."""
        if a.atype not in ("city", "name"):
            return []
        last = self.nlp_ru.make_doc(a.text)[-1].text
        if not last.isalpha() or self.lemmatizer.morph.word_is_known(last):
            return []
        return [f.lower() for f in case_forms(a.text)]

    def _geox(self, word: str) -> bool:
        return any("Geox" in p.tag for p in self.lemmatizer.morph.parse(word))

    def _group(self, aliases: List[Alias]) -> Dict[Tuple[str, str], List[Alias]]:
        groups: Dict[Tuple[str, str], List[Alias]] = {}
        for a in aliases:
            for form in self._case_forms(a) if a.lang == "ru" else []:
                self._form_text[("ru_exact", form)] = form
                group = groups.setdefault(("ru_exact", form), [])
                if a not in group:
                    group.append(a)
            lang = a.lang
            if lang == "en":
                key = " ".join(t.lower_ for t in self.nlp_en.make_doc(a.text))
                if a.atype != "city":
                    # Latin-script names also match inside Cyrillic text ("Mali", "England")
                    ru_key = " ".join(t.lower_ for t in self.nlp_ru.make_doc(a.text))
                    groups.setdefault(("ru_exact", ru_key), []).append(a)
            elif lang == "ru":
                toks = [t.text for t in self.nlp_ru.make_doc(a.text)]
                top = self.lemmatizer.morph.parse(toks[0])[0].tag if len(toks) == 1 else None
                if top is not None and a.atype == "city" and top.POS in _FUNCTION_POS:
                    continue     # a town named like a function word (По, Они, Так) is never told apart from it
                if top is not None and a.atype == "city" and top.POS in _VERB_POS and not self._geox(toks[0]):
                    # "Дали" (Dali) lemmatises to дать, as "Дайте" does: matched by its exact form only
                    lang, key = "ru_exact", a.text.lower()
                elif top is not None and (top.POS in _FUNCTION_POS or "Apro" in top):
                    # "Того" (Togo) lemmatises to тот: match such names by their exact form only
                    lang, key = "ru_exact", a.text.lower()
                else:
                    key = " ".join(self.lemmatizer.lemma(t) for t in toks)
            else:
                key = a.text.lower()
            group = groups.setdefault((lang, key), [])
            if a not in group:
                group.append(a)
        return groups

    def _add(self, lang: str, label: str, text: str) -> None:
        if lang == "en":
            docs = [self.nlp_en.make_doc(text)]
            upper = self.nlp_en.make_doc(text.upper())
            if [t.lower_ for t in upper] != [t.lower_ for t in docs[0]]:
                # all-caps headlines/datelines tokenise differently ("ST. LOUIS" -> ST . LOUIS)
                docs.append(upper)
            self.m_en.add(label, docs)
        elif lang == "ru":
            self.m_ru.add(label, [self.nlp_ru(text)])
        else:
            self.m_ru_exact.add(label, [self.nlp_ru.make_doc(text)])

    def matches(self, doc: Doc, route: str) -> List[Tuple[int, int, str]]:
        """(start token, end token, label) of every match, longest first."""
        if route == "ru":
            strings = self.nlp_ru.vocab.strings
            raw = [(s, e, strings[k]) for k, s, e in self.m_ru(doc)]
            raw += [(s, e, strings[k]) for k, s, e in self.m_ru_exact(doc)]
        else:
            strings = self.nlp_en.vocab.strings
            raw = [(s, e, strings[k]) for k, s, e in self.m_en(doc)]
        raw.sort(key=lambda x: (-(x[1] - x[0]), x[0]))
        return raw


class CandidateFinder:
    """Region mentions of one field, with the flags the traps, resolution and salience stages read."""

    def __init__(self, matchers: AliasMatchers, gazetteer: Gazetteer, settings: TaggerSettings,
                 currency_words: Set[str]) -> None:
        self.matchers = matchers
        self.gazetteer = gazetteer
        self.type_order = settings.alias_type_order
        self.quantity_words: FrozenSet[str] = settings.traps.quantity_words
        self.not_modifying: FrozenSet[str] = settings.traps.not_modifying_next
        self.currency_words = currency_words
        cfg = gazetteer.city_cfg
        self.company_forms = {w.lower().rstrip(".") for w in cfg.get("company_forms_en") or []}
        self.event_nouns = {w.lower() for w in cfg.get("named_after_city_en") or []}

    def find(self, f: Field, route: str) -> List[Mention]:
        doc = f.doc
        if doc is None or not len(doc):
            return []
        taken = [False] * len(doc)
        out: List[Mention] = []
        # longest match wins; overlapping shorter matches are dropped
        for s, e, label in self.matchers.matches(doc, route):
            if any(taken[s:e]):
                continue
            span = doc[s:e]
            # case: names need an upper-case first letter; abbreviations must be upper case
            keep = [a for a in self.matchers.alias_by_key[label] if _case_ok(a, span.text)]
            if not keep:
                continue
            for k in range(s, e):
                taken[k] = True
            m = self._mention(f, doc, s, e, keep, route)
            if m is not None:
                out.append(m)
        if f.name == "text" and route != "ru":
            self._dateline_region(f, out)
        if route != "ru":
            self._city_state(f, out)
        out.sort(key=lambda m: (m.field != "title", m.start))
        return out

    def _mention(self, f: Field, doc: Doc, s: int, e: int, keep: List[Alias], route: str) -> Optional[Mention]:
        span = doc[s:e]
        if route == "ru" and e - s == 1 and {"demonym", "city"} <= {a.atype for a in keep} and \
                self.matchers.lemmatizer.morph.parse(span.text)[0].tag.POS == "ADJF":
            # "Московский университет": the adjective of Moscow, not a town called Московский
            keep = [a for a in keep if a.atype == "demonym"]
        alias = sorted(keep, key=lambda a: self.type_order.index(a.atype))[0]
        m = Mention(entry_ids=list(dict.fromkeys(a.entry_id for a in keep)), alias=alias, field=f.name,
                    start=span.start_char, end=span.end_char, text=span.text, tok_start=s, tok_end=e)
        nxt = doc[e] if e < len(doc) else None
        if f.name == "text" and span.start_char < 40 and _is_dateline(doc, s, e):
            m.dateline = True
        if alias.atype == "abbr" and nxt is not None and nxt.is_alpha and nxt.lower_ not in self.not_modifying:
            # "U.S. soybeans", "U.K. banks": an abbreviation used as a modifier weighs like an adjective
            m.modifier = True
        if route != "ru" and (self._in_company_name(doc, e) or (nxt is not None and nxt.lower_ in self.event_nouns)):
            # "Toyota Motor Credit Corp"; "the Paris accord", "the Paris Club": the name of a company,
            # an agreement or a body, not the place
            m.org_name = True
        amount_before = s > 0 and (doc[s - 1].like_num or doc[s - 1].lower_ in self.quantity_words)
        if alias.atype == "currency" and not amount_before:
            return None
        if (amount_before and alias.atype in ("name", "abbr", "demonym") and nxt is not None
                and nxt.lower_ in self.currency_words):
            # "a 40 mln Australian dlr eurobond", "300 mln Danish crowns": the country only names the
            # currency an amount is counted in (the market of that currency is another matter:
            # "Saudi riyal deposit rates" keeps its weight)
            m.denomination = True
        return m

    def _dateline_region(self, f: Field, out: List[Mention]) -> None:
        """Wire datelines "SANTA CRUZ, Calif., Feb 26 -": the region part (AP abbreviation, postal code or a
        gazetteer name) becomes a dateline mention; the city part is marked as dateline and must lie in
        that region (RIPLEY, W. Va. is not Ripley, England)."""
        mt = _DATELINE.match(f.text[:120])
        if not mt:
            return
        # a dateline place in any case ("Oklahoma City, March 3 -") counts as dateline
        city_ms = [m for m in out if m.start >= mt.start("city") and m.end <= mt.end("city")]
        for m in city_ms:
            m.dateline = True
        grp = "region" if mt.group("region") else "region2"
        if not mt.group(grp):
            return
        reg = mt.group(grp).strip()
        rid = self.gazetteer.dateline_region(reg)
        inside = [m for m in out if m.start >= mt.start(grp) and m.end <= mt.end(grp)]
        if rid is None and grp == "region2":
            return      # only a known state/province abbreviation makes "CITY, Xx. (" a dateline
        if rid is not None:
            for m in inside:
                out.remove(m)     # "PA" is Pennsylvania here, not a namesake town
            alias = Alias(reg, "en", rid, "name")
            out.append(Mention(entry_ids=[rid], alias=alias, field="text", start=mt.start(grp),
                               end=mt.start(grp) + len(reg), text=reg, tok_start=-1, tok_end=-1, dateline=True))
            container = {rid}
        elif inside and all(m.status != "rejected" for m in inside):
            for m in inside:
                m.dateline = True
            container = {e for m in inside for e in m.entry_ids}
        else:
            return
        for m in city_ms:
            m.within = container

    def _city_state(self, f: Field, out: List[Mention]) -> None:
        """"Charleston, W.Va.", "Alexandria, La.", "Springfield, IL" anywhere in a field: the state abbreviation
        after a city and a comma becomes a mention of the state, and the city must lie in it. After a capitalised
        word the gazetteer does not know ("Lanexa, Va.") an abbreviation with a full stop names the state too."""
        self._state_after_word(f, out)
        for m in list(out):
            if m.within is not None or not any(self.gazetteer.entries[e].kind == "city" for e in m.entry_ids):
                continue
            mt = _CITY_STATE.match(f.text, m.end)
            if not mt:
                continue
            rid = self.gazetteer.dateline_region(mt.group(1))
            if rid is None:
                continue
            for o in [o for o in out if o.start >= mt.start(1) and o.end <= mt.end(1)]:
                out.remove(o)     # "La." is Louisiana here, not a namesake town
            alias = Alias(mt.group(1), "en", rid, "name")
            out.append(Mention(entry_ids=[rid], alias=alias, field=f.name, start=mt.start(1), end=mt.end(1),
                               text=mt.group(1), tok_start=-1, tok_end=-1))
            m.within = {rid}

    def _state_after_word(self, f: Field, out: List[Mention]) -> None:
        for mt in _WORD_STATE.finditer(f.text):
            rid = self.gazetteer.dateline_region(mt.group(1))
            s, e = mt.start(1), mt.end(1)
            if rid is None or any(o.start < e and s < o.end and o.dateline for o in out):
                continue
            word_end = mt.start() + mt.group(0).index(",")
            if any(o.end == word_end for o in out):
                continue      # after a gazetteer place: _city_state places the city in the state
            for o in [o for o in out if o.start >= s and o.end <= e]:
                out.remove(o)
            out.append(Mention(entry_ids=[rid], alias=Alias(mt.group(1), "en", rid, "name"), field=f.name, start=s,
                               end=e, text=mt.group(1), tok_start=-1, tok_end=-1))

    def _in_company_name(self, doc: Doc, e: int) -> bool:
        """The place name is part of a company name: capitalised words after it end in a legal-form word
        ("Toyota Motor Credit Corp", "Cyprus Minerals Co", "Houston Metals Corp", "Hudson's Bay Co")."""
        for k in range(e, min(e + 5, len(doc))):
            t = doc[k]
            if t.lower_.rstrip(".") in self.company_forms and t.text[:1].isupper():
                return True
            if t.text in ("&", "'s", "’s", "-") or (t.is_alpha and t.text[:1].isupper()):
                continue
            return False
        return False


def _case_ok(a: Alias, stext: str) -> bool:
    if a.case_sensitive:
        letters = [c for c in stext if c.isalpha()]
        return all(c.isupper() for c in letters)
    if a.atype == "demonym" and a.lang != "en":
        return True
    if a.lang != "en" and " " in stext:
        # "сектора Газа", "Московской области": the proper-noun part carries the capital letter
        return any(w[:1].isupper() for w in stext.split())
    return stext[:1].isupper()


def _is_dateline(doc: Doc, s: int, e: int) -> bool:
    # "NEW YORK, Feb 26 -" / "MOSCOW (Reuters) -": the place opens the text, upper case, then , ( or -
    if any(not t.is_space and not t.is_punct for t in doc[:s]):
        return False
    if e >= len(doc):
        return False
    nxt = doc[e].text
    return doc[s:e].text.isupper() and nxt in {",", "(", "-", "—", "–"}
