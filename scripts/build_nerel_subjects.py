"""Builds the NEREL gold table: consumes <shared>/corpora/nerel/{dev,test}.jsonl and pycountry's subdivision names,
produces processors/enrich/taxonomy/eval/nerel_subjects.yaml (Wikidata item -> ISO 3166-2 Russian subject).

Run once when the corpus changes, then review the table by hand: it is what `surgewatch eval tagging` scores
the Russian subject recall against, without asking the tagger what a gold mention means.

    .venv/bin/python scripts/build_nerel_subjects.py --shared-dir ../shared

A STATE_OR_PROVINCE item maps to a subject when its Wikidata label matches one of pycountry's names for the
subject (the Russian translation where pycountry has one, else its romanisation compared with the label
transliterated): every distinctive word of the one shares a stem with a word of the other, and the label's
generic words (республика, область, край, ...) are among the subject's.
"""
from __future__ import annotations

import argparse
import gettext
import json
import re
from pathlib import Path
from typing import Dict, FrozenSet, List, Optional, Set, Tuple

import pycountry
import yaml

OUT = Path(__file__).resolve().parents[1] / "processors" / "enrich" / "taxonomy" / "eval" / "nerel_subjects.yaml"
# Crimea and Sevastopol: the tagger tags them as disputed territories of Ukraine (ISO UA-43 / UA-40)
EXTRA_CODES = ("UA-43", "UA-40")
# reviewed by hand: items the name rule cannot decide (label -> code)
MANUAL = {
    "Крымский полуостров": "UA-43",     # the peninsula, annotated as the region
    "Мордовская Автономная Советская Социалистическая Республика": "RU-MO",   # the Soviet-era name
}
GENERIC = {"respublika", "oblast", "kray", "avtonomnyy", "avtonomnaya", "avtonomna", "okrug", "gorod"}
_TRANSLIT = dict(zip("абвгдежзийклмнопрстуфхцчшщъыьэюяё",
                     ["a", "b", "v", "g", "d", "e", "zh", "z", "i", "y", "k", "l", "m", "n", "o", "p", "r", "s",
                      "t", "u", "f", "kh", "ts", "ch", "sh", "shch", "", "y", "", "e", "yu", "ya", "e"]))


def _latin(text: str) -> str:
    return "".join(_TRANSLIT.get(c, c) for c in text.lower())


def _words(name: str) -> Tuple[FrozenSet[str], FrozenSet[str]]:
    """(distinctive words, generic words) of a name, romanised and normalised."""
    norm = _latin(name).replace("'", "").replace("ye", "e").replace("kh", "h").replace("iy", "i").replace("yy", "y")
    words = [w for w in re.split(r"[^a-z]+", norm) if w]
    generic = {g.replace("yy", "y") for g in GENERIC}
    return frozenset(w for w in words if w not in generic), frozenset(w for w in words if w in generic)


def _stem_match(a: str, b: str) -> bool:
    common = len(next((a[:i] for i in range(min(len(a), len(b)), 0, -1) if a[:i] == b[:i]), ""))
    return common >= max(4, min(len(a), len(b)) - 3)


def _match(label: str, name: str) -> int:
    """2: every distinctive word of each has a stem in the other; 1: only one way round; 0: no match."""
    lw, lg = _words(label)
    cw, cg = _words(name)
    if not lw or not cw or not lg <= cg:
        return 0
    covered_l = all(any(_stem_match(a, b) for b in cw) for a in lw)
    covered_c = all(any(_stem_match(b, a) for a in lw) for b in cw)
    return int(covered_l) + int(covered_c)


def _subject_names() -> Dict[str, List[str]]:
    ru = gettext.translation("iso3166-2", pycountry.LOCALES_DIR, languages=["ru"])
    subs = list(pycountry.subdivisions.get(country_code="RU")) + [pycountry.subdivisions.get(code=c)
                                                                   for c in EXTRA_CODES]
    return {s.code: list(dict.fromkeys([ru.gettext(s.name), s.name])) for s in subs}


def _code(label: str, names: Dict[str, List[str]]) -> Tuple[Optional[str], List[str]]:
    if label in MANUAL:
        return MANUAL[label], []
    scores = {code: max(_match(label, n) for n in ns) for code, ns in names.items()}
    best = max(scores.values())
    hits = sorted(code for code, score in scores.items() if best and score == best)
    return (hits[0] if len(hits) == 1 else None), hits


def build(shared: Path) -> Dict[str, object]:
    names = _subject_names()
    items: Dict[str, str] = {}
    for split in ("dev", "test"):
        for line in (shared / "corpora" / "nerel" / f"{split}.jsonl").read_text(encoding="utf-8").splitlines():
            for e in json.loads(line)["entities"] if line.strip() else []:
                if e["type"] == "STATE_OR_PROVINCE" and e.get("wikidata") and e.get("wikidata_label"):
                    items.setdefault(e["wikidata"], e["wikidata_label"])
    subjects: Dict[str, Dict[str, str]] = {}
    other: Dict[str, str] = {}
    ambiguous: Set[str] = set()
    for qid, label in sorted(items.items(), key=lambda kv: int(kv[0][1:])):
        code, hits = _code(label, names)
        if code:
            subjects[qid] = {"iso": code, "label": label}
        else:
            other[qid] = label
            if len(hits) > 1:
                ambiguous.add(f"{label}: {', '.join(hits)}")
    for a in sorted(ambiguous):
        print("ambiguous, left out:", a)
    return {"subjects": subjects, "other": other}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared-dir", type=Path, default=Path("../shared"))
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    table = build(args.shared_dir)
    head = ("# NEREL v1.1 dev+test STATE_OR_PROVINCE Wikidata items -> ISO 3166-2 code of the Russian federal\n"
            "# subject they name (Crimea and Sevastopol as UA-43 / UA-40, as the tagger tags them); `other` lists\n"
            "# the linked items that name no Russian subject. Built by scripts/build_nerel_subjects.py from\n"
            "# pycountry's subdivision names and reviewed by hand. Read only by processors/enrich/evaluate.py,\n"
            "# never by the tagger.\n")
    args.out.write_text(head + yaml.safe_dump(table, allow_unicode=True, sort_keys=False, width=120),
                        encoding="utf-8")
    print(f"{args.out}: {len(table['subjects'])} subject items, {len(table['other'])} other")  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
