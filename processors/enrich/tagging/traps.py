"""Region traps: consumes an item's candidate Mentions and fields, rejects those its words show to be no place.

No place: a person, building, language, acronym or common word; a city named only inside a company name is
kept without weight."""
from __future__ import annotations

from typing import Dict, List, Optional

from spacy.tokens import Doc, Token

from processors.enrich.tagging.evidence import capitalised_in_sentence
from processors.enrich.tagging.gazetteer import Gazetteer
from processors.enrich.tagging.mentions import Field, Mention
from processors.enrich.tagging.nlp import Lemmatizer
from processors.enrich.tagging.settings import TaggerSettings

_BLOCKABLE_KINDS = {"city", "country", "federal_subject", "federal_city"}


def written_lower(word: str, text: str) -> bool:
    """True when `word` (lower case) occurs in `text` as a whole word written in lower case."""
    i = text.find(word)
    while i >= 0:
        j = i + len(word)
        if (i == 0 or not text[i - 1].isalpha()) and (j >= len(text) or not text[j].isalpha()):
            return True
        i = text.find(word, i + 1)
    return False


_OPEN_QUOTES = frozenset({"«", "„", "“", "\""})
_CLOSE_QUOTES = frozenset({"»", "“", "”", "\""})


def _compound(doc: Doc, s: int, e: int) -> Optional[str]:
    """The name is one part of a hyphenated compound the gazetteer does not know (Ай-Петри, Минск-Арена,
    Алма-Атинской): the compound names something else."""
    def glued(k: int) -> bool:     # doc[k] is a hyphen written between two words without spaces
        return 0 < k < len(doc) - 1 and doc[k].text == "-" and doc[k - 1].whitespace_ == "" and \
            doc[k].whitespace_ == "" and doc[k - 1].is_alpha and doc[k + 1].is_alpha
    if glued(s - 1) or glued(e):
        k = s - 1 if glued(s - 1) else e
        return f"part of the compound '{doc[k - 1].text}-{doc[k + 1].text}'"
    return None


def _caps(text: str) -> bool:
    """The field is written in capitals (an all-caps headline)."""
    return sum(map(str.isupper, text)) > 0.6 * max(1, sum(map(str.isalpha, text)))


class TrapFilter:
    """Rejects candidates by the words next to them; word lists from tagging.yaml and regions.yaml `cities`."""

    def __init__(self, gazetteer: Gazetteer, lemmatizer: Lemmatizer, settings: TaggerSettings) -> None:
        self.gazetteer = gazetteer
        self.lemmatizer = lemmatizer
        cfg = gazetteer.city_cfg
        self.blocking_next_en = {w.lower() for w in cfg.get("blocking_next_en") or []}
        self.blocking_next_ru = {lemmatizer.lemma(w) for w in cfg.get("blocking_next_ru") or []}
        self.first_names = set(cfg.get("person_first_names") or [])
        self.language_words_en = settings.traps.language_words_en
        self.language_lemmas_ru = settings.traps.language_lemmas_ru
        self.region_nouns_ru = settings.traps.region_nouns_ru
        self.prepositions_ru = settings.traps.prepositions_ru
        self.adjective_regions_ru = settings.traps.adjective_regions_ru
        self.water_nouns_ru = settings.traps.water_nouns_ru
        self.currency_lemmas_ru = settings.traps.currency_lemmas_ru

    def apply(self, ms: List[Mention], fields: List[Field], route: str) -> None:
        docs = {f.name: f.doc for f in fields}
        texts = {f.name: f.text for f in fields}
        caps_field: Dict[str, bool] = {}
        for m in ms:
            if m.tok_start < 0:
                continue
            reason = None
            if route != "ru" and m.alias.atype == "city" and not m.dateline and self._only_small(m):
                if m.field not in caps_field:
                    caps_field[m.field] = _caps(texts[m.field])
                reason = self._common_word(m, texts, caps_field[m.field])
            doc = docs[m.field]
            assert doc is not None
            reason = reason or self._neighbour_trap(m, doc, route)
            if not reason and route == "ru":
                reason = self._russian_city_trap(m, doc, ms) or self._other_word_elsewhere(m, docs)
            if reason:
                m.reject(reason)
        self._pair_names(ms)
        self._spread(ms)

    def _other_word_elsewhere(self, m: Mention, docs: Dict[str, Optional[Doc]]) -> Optional[str]:
        """pymorphy3 reads the one-word town name first as a form of an animate noun (Тана: of тан), and the item
        writes that noun's lemma capitalised elsewhere ("Тан сказал"), which is no form of the town's name: the
        name is a person's here."""
        if m.tok_end - m.tok_start != 1 or m.alias.atype != "city" or not self._all_cities(m):
            return None
        parses = self.lemmatizer.morph.parse(m.text)
        top, lemma = parses[0], parses[0].normal_form
        if "anim" not in top.tag or "Geox" in top.tag or lemma == m.text.lower():
            return None
        if lemma in {f.word for p in parses if "Geox" in p.tag for f in p.lexeme}:
            return None
        for d in docs.values():
            for t in d or []:
                if t.lower_ == lemma and t.text[:1].isupper():
                    return f"person: the item also writes '{t.text}', no form of the town's name"
        return None

    def _pair_names(self, ms: List[Mention]) -> None:
        """Two town names side by side where one was read as part of a person's name because of the other (Кея
        Мория): both are."""
        for m in [m for m in ms if m.reason.startswith("person: the capitalised word")]:
            for o in ms:
                if o is not m and o.field == m.field and o.status != "rejected" and o.tok_start >= 0 and \
                        (o.tok_start == m.tok_end or o.tok_end == m.tok_start) and f"'{o.text}'" in m.reason and \
                        self._all_cities(o):
                    o.reject(f"person: part of one name with '{m.text}'")

    def _russian_city_trap(self, m: Mention, doc: Doc, ms: List[Mention]) -> Optional[str]:
        """Why a Russian city candidate is no city here: a region noun before it (its city readings are dropped),
        part of a hyphenated compound, all of a quotation, or beside a capitalised word of a person's
        name; None when none of these holds."""
        cities = [e for e in m.entry_ids if self.gazetteer.entries[e].kind == "city"]
        if not cities:
            return None
        if m.alias.atype == "demonym":
            return self._city_adjective_trap(m, doc, ms)
        prev = doc[m.tok_start - 1] if m.tok_start > 0 else None
        if prev is not None and self.lemmatizer.lemma(prev.text) in self.water_nouns_ru:
            m.entry_ids = [e for e in m.entry_ids if e not in cities]      # "реки Печоры": the river
            return None if m.entry_ids else f"river or lake: '{prev.text} {m.text}' names no city"
        if prev is not None and self.lemmatizer.lemma(prev.text) in self.region_nouns_ru and \
                not self._genitive(doc[m.tok_end - 1]):
            # in apposition ("префектуре Ниигата"), not a genitive ("района Уфы": a district of the city)
            m.entry_ids = [e for e in m.entry_ids if e not in cities]
            if not m.entry_ids:
                return f"region or district name: '{prev.text} {m.text}' names no city"
            return None
        if len(cities) < len(m.entry_ids) or m.alias.atype != "city":
            return None       # also a region's or country's name: resolution decides
        if m.text.isupper() and len(m.text) <= 5 and not m.alias.text.isupper():
            return f"acronym in capitals: '{m.text}' (the town is written {m.alias.text})"   # МГУ is not Мга
        return _compound(doc, m.tok_start, m.tok_end) or self._quoted(doc, m.tok_start, m.tok_end) or \
            self._person_neighbour(doc, m, ms)

    def _city_adjective_trap(self, m: Mention, doc: Doc, ms: List[Mention]) -> Optional[str]:
        """A city's adjective before a region noun names the region called after the city (Могилёвская
        губерния, Приволжского округа); capitalised beside a person's name it is a surname (Владимир Мединский)."""
        nxt = doc[m.tok_end] if m.tok_end < len(doc) else None
        noun = self.lemmatizer.lemma(nxt.text) if nxt is not None else ""
        if noun in self.currency_lemmas_ru:
            return f"currency: '{m.text} {nxt.text}'"
        if noun in self.adjective_regions_ru or (noun in self.region_nouns_ru and m.text[:1].isupper()):
            # (a lower-case adjective before район, округ names the city's district: "в лондонском районе")
            return f"region named after the city: '{m.text} {nxt.text}'"
        if m.text[:1].isupper() and m.tok_start > 0 and capitalised_in_sentence(doc, m.tok_start, m.tok_end):
            return self._person_neighbour(doc, m, ms)
        return None

    def _name_word(self, t: Token) -> bool:
        """A capitalised word, no abbreviation, that pymorphy3 does not know (or knows only as an abbreviation, which
        would be written in capitals: Ип) or reads as a first name, surname or patronymic: a part of a person's name
        (not "Собрания", "Сысертского", "Реал"); never a plural only ("Скрипалей": a family, not a first name)."""
        if not (t.is_alpha and t.text[:1].isupper() and not t.text.isupper()):
            return False
        morph = self.lemmatizer.morph
        parses = morph.parse(t.text)[:3]
        if parses[0].tag.POS == "NOUN" and "plur" in parses[0].tag:
            return False
        return not morph.word_is_known(t.text) or all("Abbr" in p.tag for p in parses) or \
            any({"Name", "Surn", "Patr"} & set(map(str, p.tag.grammemes)) for p in parses)

    def _first_name_like(self, t: Token) -> bool:
        """pymorphy3 reads the word as a first name, or as an indeclinable foreign noun (Стэнли, Никки): a word that
        may open a person's name."""
        return any("Name" in p.tag or "Fixd" in p.tag for p in self.lemmatizer.morph.parse(t.text)[:3])

    @staticmethod
    def _initial(doc: Doc, k: int) -> bool:
        """doc[k] is an initial: one capital letter and a full stop ("О. Рокфеллер")."""
        if not 0 <= k < len(doc) or not doc[k].text[:1].isupper() or not doc[k].text[:1].isalpha():
            return False
        return doc[k].text[1:] == "." or (len(doc[k].text) == 1 and k + 1 < len(doc) and doc[k + 1].text == ".")

    def _genitive(self, t: Token) -> bool:
        """pymorphy3 knows the word and reads it as a genitive ("мэр Москвы Сергей ...": a city's official)."""
        morph = self.lemmatizer.morph
        return morph.word_is_known(t.text) and any("gent" in p.tag for p in morph.parse(t.text)[:3])

    @staticmethod
    def _quoted(doc: Doc, s: int, e: int) -> Optional[str]:
        """The name is all of a quotation («Барселона», «Тула», "Курск"): a club, a ship, a film or a company
        named after the city ("«Эхо Москвы»" names the city inside a station's name)."""
        if 0 < s and e < len(doc) and doc[s - 1].text in _OPEN_QUOTES and doc[e].text in _CLOSE_QUOTES:
            return f"in quotation marks: {doc[s - 1:e + 1].text} names a club, ship, title or company"
        return None

    def _person_neighbour(self, doc: Doc, m: Mention, ms: List[Mention]) -> Optional[str]:
        """A capitalised word inside the sentence before the name, or right after it (unless a preposition
        precedes the name, or a word precedes a genitive: "в Москве Путин", "мэр Москвы Сергей"), that no other
        place mention covers: the name is part of a person's name (Стэнли Хо, Ван Цзюнь, Ане Лунде)."""
        places = {k for o in ms if o is not m and o.tok_start >= 0 and o.field == m.field and not
                  self._all_cities(o) for k in range(o.tok_start, o.tok_end)}
        s, e = m.tok_start, m.tok_end
        prev = doc[s - 1] if s > 0 else None
        nxt = doc[e] if e < len(doc) else None
        after_prep = prev is not None and prev.lower_ in self.prepositions_ru
        if (self._initial(doc, e) and not after_prep) or (s > 0 and doc[s - 1].text == "." and
                                                           self._initial(doc, s - 2)) or \
                (s > 0 and doc[s - 1].text.endswith(".") and self._initial(doc, s - 1)):
            return "person: an initial stands beside the name"
        if nxt is not None and e not in places and e - s == 1 and nxt.is_alpha and nxt.text[:1].isupper() and \
                not nxt.text.isupper() and doc[s].whitespace_ and self._first_name_like(doc[s]) and \
                not self.lemmatizer.analyse(nxt.text)[2] and not after_prep:
            # a first name (or an indeclinable foreign word) and a capitalised word that is no first name
            # ("Стэнли Кубрика", "Питера Сигала"); a first name after it starts another person ("мэр Москвы Сергей")
            return f"person: the name reads as a first name and '{nxt.text}' follows it"
        if prev is not None and self._genitive(doc[s]) and s - 1 not in places and \
                (prev.lower_ in self.prepositions_ru or prev.is_alpha):
            return None       # "Собрания Санкт-Петербурга", "мэр Москвы Сергей ...": the city's body or official
        if prev is not None and s - 1 not in places and self._name_word(prev) and \
                capitalised_in_sentence(doc, s - 1, s):
            return f"person: the capitalised word '{prev.text}' precedes the name"
        if prev is not None and prev.lower_ in self.prepositions_ru:
            return None
        if nxt is not None and e not in places and self._name_word(nxt) and doc[e - 1].whitespace_:
            return f"person: the capitalised word '{nxt.text}' follows the name"
        return None

    def _all_cities(self, m: Mention) -> bool:
        return all(self.gazetteer.entries[e].kind == "city" for e in m.entry_ids)

    def _only_small(self, m: Mention) -> bool:
        return all(self.gazetteer.entries[e].needs_support for e in m.entry_ids)

    @staticmethod
    def _common_word(m: Mention, texts: Dict[str, str], caps: bool) -> Optional[str]:
        if m.text.isupper() and len(m.text) <= 4 and not caps:
            # "ICO", "SAMA" in mixed-case text: an acronym, not the town Ico or Sama
            return "acronym in capitals"
        if m.tok_end - m.tok_start == 1 and any(written_lower(m.text.lower(), t) for t in texts.values()):
            # "Cocoa futures fell ... cocoa prices": the item itself writes the word in lower case
            return f"common word: '{m.text.lower()}' in lower case elsewhere"
        return None

    def _neighbour_trap(self, m: Mention, doc: Doc, route: str) -> Optional[str]:
        """Why the word before or after the name makes it no place, or None."""
        prev = doc[m.tok_start - 1] if m.tok_start > 0 else None
        nxt = doc[m.tok_end] if m.tok_end < len(doc) else None
        ru = route == "ru"
        if m.alias.atype == "demonym" and nxt is not None and (
                self.lemmatizer.lemma(nxt.text) in self.language_lemmas_ru if ru else
                nxt.lower_ in self.language_words_en):
            return f"language name: '{m.text} {nxt.text}'"
        if prev is not None and m.alias.atype not in ("demonym", "currency", "institution"):
            is_name = prev.text in self.first_names
            if ru and not is_name and prev.text[:1].isupper() and prev.is_alpha:
                is_name = self.lemmatizer.analyse(prev.text)[2]
            if is_name:
                return f"person: first name '{prev.text}' precedes the place name"
        if ru and m.alias.atype == "city" and nxt is not None and nxt.text[:1].isupper() and nxt.is_alpha and \
                not (prev is not None and prev.lower_ in self.prepositions_ru):   # "в Москве Путин ..."
            if any("Surn" in p.tag for p in self.lemmatizer.morph.parse(nxt.text)[:2]):
                return f"person: surname '{nxt.text}' follows the name"
        if nxt is not None and {self.gazetteer.entries[e].kind for e in m.entry_ids} & _BLOCKABLE_KINDS:
            # English: a capitalised "Cathedral", "Station"; Russian: the lemma (собор, вокзал) in any case
            block = self.lemmatizer.lemma(nxt.text) in self.blocking_next_ru if ru else \
                nxt.lower_ in self.blocking_next_en
            # (a lower-case adjective names the city's own: "московского метро"; a capitalised one the building
            # called after it: "Казанский вокзал")
            if block and (nxt.text[:1].isupper() if not ru else m.alias.atype != "demonym" or m.text[:1].isupper()):
                return f"building/institution: '{m.text} {nxt.text}'"
        return None

    def _spread(self, ms: List[Mention]) -> None:
        # what the running text shows to be an acronym or a common word is that in an all-caps title too
        words = {m.text.lower() for m in ms if m.reason.startswith(("acronym", "common word"))}
        for m in ms:
            if words and m.status != "rejected" and not m.dateline and m.text.lower() in words and \
                    self._all_cities(m):
                m.reject("common word/acronym (as written elsewhere in the item)")
        # a city named only inside a company name ("Toyota Motor Credit Corp", then "Toyota said") is a
        # place mention without weight: kept as evidence, never what the item is about by itself
        org = {m.text.lower() for m in ms if m.org_name}
        for m in ms:
            if org and not m.dateline and m.text.lower() in org and self._all_cities(m):
                m.org_name = True
            elif m.org_name and (m.dateline or not self._all_cities(m)):
                m.org_name = False   # countries in company names keep their weight (Japan Air Lines Co)
