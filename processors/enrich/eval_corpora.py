"""Evaluation helpers: consume corpus JSONL files and Tags, produce NewsItems, span overlaps and P/R/F1 dicts."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from streams.records import NewsItem

COUNTRY_KINDS = ("country", "historical_country", "constituent_country")

Span = Tuple[int, int]


def read_jsonl(path: Path, limit: Optional[int] = None) -> List[Dict[str, Any]]:
    out: List[Dict[str, Any]] = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                out.append(json.loads(line))
                if limit is not None and len(out) >= limit:
                    break
    return out


def eval_item(title: str, text: str, language: Optional[str] = None) -> NewsItem:
    return NewsItem(title=title, text=text, published_at="2000-01-01T00:00:00Z", id=None, language=language)


def prf(tp: int, fp: int, fn: int) -> Dict[str, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4), "tp": tp, "fp": fp, "fn": fn}


def tag_country(tag: Any) -> Optional[str]:
    return tag.country_code.lower() if tag.country_code else None


def overlaps(a: Span, b: Span) -> bool:
    return a[0] < b[1] and b[0] < a[1]
