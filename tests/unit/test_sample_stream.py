"""The bundled synthetic stream: parses, is labelled synthetic, has its surge and its few invalid lines, regenerates
byte for byte."""
from __future__ import annotations

import json
import re
from collections import Counter
from datetime import date
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

from streams.records import InvalidItem, NewsItem
from streams.sample import sample_stream_path
from scripts.sample_stream.generate import INVALID_LINES, SURGE_START, write

# the surge's subject: Russia's Muslim regions / Muslims, English and Russian (inflected) forms
SURGE_TERMS = re.compile(
    r"chechn|dagestan|tatarstan|ingushetia|bashkortostan|kabardino|north caucasus|muslim|grozny|makhachkala|"
    r"чечн|дагестан|татарстан|ингушет|башкир|кабардин|северн\w* кавказ|мусульман|грозн|махачкал", re.IGNORECASE)
FIELDS = ["id", "title", "text", "published_at", "url", "source", "language"]


def load() -> Tuple[List[Tuple[dict, NewsItem]], List[Tuple[int, str]]]:
    valid: List[Tuple[dict, NewsItem]] = []
    invalid: List[Tuple[int, str]] = []
    for n, raw in enumerate(sample_stream_path().read_bytes().splitlines(), start=1):
        try:
            payload = json.loads(raw)
            valid.append((payload, NewsItem.from_payload(payload)))
        except InvalidItem as exc:
            invalid.append((n, exc.reason))
        except ValueError:
            invalid.append((n, "not_json"))
    return valid, invalid


@pytest.fixture(scope="module")
def stream() -> Tuple[List[Tuple[dict, NewsItem]], List[Tuple[int, str]]]:
    return load()


def test_file_size_and_line_shape(stream: Tuple[list, list]) -> None:
    valid, _ = stream
    assert sample_stream_path().stat().st_size < 2_000_000
    assert 1500 <= len(valid) <= 2500
    for payload, item in valid:
        assert list(payload) == FIELDS
        assert item.id == payload["id"] and item.published_at == payload["published_at"]
        assert item.source and item.source.startswith("synthetic:")
        assert item.url and ".example/" in item.url
        assert 2 <= len(re.findall(r"[.!?](?:\s|$)", item.text)) <= 4, item.text
    assert len({p["id"] for p, _ in valid}) == len(valid)


def test_languages_outlets_and_span(stream: Tuple[list, list]) -> None:
    valid, _ = stream
    langs = Counter(i.language for _, i in valid)
    assert set(langs) == {"en", "ru"}
    assert 0.18 <= langs["ru"] / len(valid) <= 0.32
    assert len({i.source for _, i in valid}) >= 6
    days = sorted({i.published_at[:10] for _, i in valid})
    assert len(days) >= 21


def test_daily_and_weekly_rhythm(stream: Tuple[list, list]) -> None:
    valid, _ = stream
    hours = Counter(int(i.published_at[11:13]) for _, i in valid)
    assert sum(hours[h] for h in range(7, 16)) > 3 * sum(hours[h] for h in (0, 1, 2, 3, 4, 22, 23))
    before = [i for _, i in valid if i.published_at < SURGE_START.strftime("%Y-%m-%d")]
    per_day = Counter(date.fromisoformat(i.published_at[:10]) for i in before)
    weekday = [c for d, c in per_day.items() if d.weekday() < 5]
    weekend = [c for d, c in per_day.items() if d.weekday() >= 5]
    assert sum(weekend) / len(weekend) < 0.85 * sum(weekday) / len(weekday)


def test_surge_jumps_at_least_five_fold_over_its_baseline(stream: Tuple[list, list]) -> None:
    valid, _ = stream
    per_day: Dict[str, int] = Counter(i.published_at[:10] for _, i in valid if SURGE_TERMS.search(i.title + " " +
                                                                                                 i.text))
    start = SURGE_START.strftime("%Y-%m-%d")
    all_days = sorted({i.published_at[:10] for _, i in valid})
    prior = [per_day.get(d, 0) for d in all_days if d < start]
    baseline = sum(prior) / len(prior)
    assert baseline > 0.5, "the surge's subject needs a baseline before it starts"
    for day in [d for d in all_days if d >= start][:3]:
        assert per_day[day] >= 5 * baseline, (day, per_day[day], baseline)
    # both languages, inflected Russian forms, and syndicated copies (same text, different outlets)
    surge = [i for _, i in valid if i.published_at >= start and SURGE_TERMS.search(i.title + " " + i.text)]
    ru_text = " ".join(i.title + " " + i.text for i in surge if i.language == "ru")
    for form in ("Чечни", "мусульман", "Дагестана", "Газы"):
        assert form in ru_text
    assert any(i.language == "en" and "Chechnya" in i.text for i in surge)
    by_text: Dict[str, set] = {}
    for i in surge:
        by_text.setdefault(i.text, set()).add(i.source)
    assert sum(1 for s in by_text.values() if len(s) > 1) >= 10


def test_invalid_lines_are_the_expected_few(stream: Tuple[list, list]) -> None:
    valid, invalid = stream
    assert len(invalid) == len(INVALID_LINES) == 10
    assert len(invalid) / (len(valid) + len(invalid)) < 0.01
    assert [reason for _, reason in invalid] == [r for _, _, r in INVALID_LINES]


def test_generator_reproduces_the_bundled_file(tmp_path: Path) -> None:
    out = tmp_path / "news.jsonl"
    write(out)
    assert out.read_bytes() == sample_stream_path().read_bytes()
