"""Terminal output of `surgewatch search`: consumes stored documents, produces rows that show a title as text, never
as Rich markup or terminal escape sequences."""
from __future__ import annotations

import io

from rich.console import Console
from rich.table import Table

from surgewatch.cli import search_row


def _render(doc: dict) -> str:
    table = Table("published", "title", "regions", "communities", "topics", "source")
    table.add_row(*search_row(doc))
    out = io.StringIO()
    Console(file=out, width=200, force_terminal=True, color_system=None).print(table)
    return out.getvalue()


def test_markup_in_a_stored_title_is_shown_as_text() -> None:
    out = _render({"title": "[/r/worldnews] and [link=http://evil.example]click[/link]", "region_ids": ["region:ps"]})
    assert "[/r/worldnews]" in out and "[link=http://evil.example]click[/link]" in out
    assert "\x1b]8;" not in out     # no OSC 8 hyperlink escape


def test_escape_sequences_in_a_stored_title_are_dropped() -> None:
    out = _render({"title": "calm \x1b[2J\x1b]0;owned\x07 title", "source": "x\x1b[31m"})
    assert "\x1b]0;" not in out and "\x07" not in out
    assert "\x1b[2J" not in out and "\x1b[31m" not in out and "calm" in out
