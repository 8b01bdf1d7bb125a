"""Language detection with lingua on short fixtures."""
from __future__ import annotations

import pytest

from processors.enrich.language import LanguageDetector


@pytest.fixture(scope="module")
def det() -> LanguageDetector:
    return LanguageDetector()


@pytest.mark.parametrize("text,code", [
    ("Thousands of Muslims rallied in Grozny in support of Palestinians.", "en"),
    ("Тысячи мусульман вышли на митинг в Грозном в поддержку палестинцев.", "ru"),
    ("Тисячі мусульман вийшли на мітинг у Грозному на підтримку палестинців.", "uk"),
    ("Des milliers de musulmans ont manifesté à Paris pour Gaza.", "fr"),
    ("Tausende Muslime demonstrierten in Berlin für Gaza.", "de"),
])
def test_detect(det: LanguageDetector, text: str, code: str) -> None:
    assert det.detect(text) == code


def test_no_letters(det: LanguageDetector) -> None:
    assert det.detect("12345 !!! ---") == "und"


def test_declared_language_wins(det: LanguageDetector) -> None:
    assert det.detect_item("Hello", "world", declared="RU-ru") == "ru"
    assert det.detect_item("Привет", "мир", declared=None) == "ru"
