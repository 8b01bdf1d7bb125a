"""Bundled sample stream: consumes nothing, provides the path of the synthetic NDJSON news stream (news.jsonl)."""
from __future__ import annotations

from pathlib import Path

SAMPLE_STREAM: Path = Path(__file__).with_name("news.jsonl")


def sample_stream_path() -> Path:
    """Path of the bundled synthetic stream (see README.md next to it)."""
    return SAMPLE_STREAM
