"""Language detection: consumes item title/text, produces an ISO 639-1 code (lingua, detector built once)."""
from __future__ import annotations

import logging
import re
from typing import Iterable, Optional, Sequence

from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

log = logging.getLogger(__name__)

#: Languages the detector chooses among: what a news stream about Russia, the Caucasus, the Middle
#: East and Europe realistically carries. Restricting the set makes lingua faster and more accurate.
DEFAULT_LANGUAGES: tuple[str, ...] = ("en", "ru", "uk", "be", "kk", "de", "fr", "es", "it", "pt", "pl",
                                      "tr", "ar", "he", "fa", "az", "ka", "hy", "nl", "sv")
UNDETERMINED = "und"

_LETTER = re.compile(r"[^\W\d_]", re.UNICODE)
_CYR = re.compile(r"[\u0400-\u04FF]")


class LanguageDetector:
    """Wraps one lingua detector. `detect` returns an ISO 639-1 code or "und" when there are no letters."""

    def __init__(self, languages: Sequence[str] = DEFAULT_LANGUAGES, sample_chars: int = 300) -> None:
        langs = []
        for code in languages:
            try:
                langs.append(Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper())))
            except (AttributeError, ValueError):
                log.warning("lingua does not know language %r; skipped", code)
        self.codes = [code for code in languages]
        self.sample_chars = sample_chars
        self._detector = LanguageDetectorBuilder.from_languages(*langs).build()

    def detect(self, text: str) -> str:
        sample = text[: self.sample_chars]
        letters = _LETTER.findall(sample)
        if not letters:
            return UNDETERMINED
        lang = self._detector.detect_language_of(sample)
        if lang is None:
            # lingua abstains on very short/mixed text: fall back on the script
            cyr = sum(1 for c in letters if _CYR.match(c))
            return "ru" if cyr > len(letters) / 2 else ("en" if any(c.isascii() for c in letters) else UNDETERMINED)
        return lang.iso_code_639_1.name.lower()

    def detect_item(self, title: str, text: str, declared: Optional[str] = None) -> str:
        """The declared language wins when given (normalised to its 2-letter code)."""
        if declared and declared.strip():
            return declared.strip().lower().replace("_", "-").split("-")[0]
        return self.detect((title or "") + "\n" + (text or ""))

    def detect_many(self, texts: Iterable[str]) -> list[str]:
        """Batch detection (lingua's Rust thread pool for larger batches)."""
        samples = [t[: self.sample_chars] for t in texts]
        if len(samples) < 16:
            return [self.detect(t) for t in samples]
        found = self._detector.detect_languages_in_parallel_of(samples)
        return [lang.iso_code_639_1.name.lower() if lang is not None else self.detect(t)
                for t, lang in zip(samples, found)]

    def detect_items(self, pairs: Sequence[tuple[str, str, Optional[str]]]) -> list[str]:
        """(title, text, declared language) per item: declared wins, the rest detected in one batch."""
        out: list[Optional[str]] = [self.detect_item("", "", d) if d and d.strip() else None for _, _, d in pairs]
        todo = [i for i, v in enumerate(out) if v is None]
        if todo:
            for i, code in zip(todo, self.detect_many([(pairs[i][0] or "") + "\n" + (pairs[i][1] or "") for i in todo])):
                out[i] = code
        return [v or UNDETERMINED for v in out]
