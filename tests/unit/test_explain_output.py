"""`surgewatch explain` on a non-tty: plain lines, one block per candidate (processors/enrich/cli.py)."""
from __future__ import annotations

from processors.enrich.cli import explain_lines


def test_plain_lines_name_the_decision_the_tag_and_the_reason() -> None:
    rows = [{"dimension": "region", "id": None, "candidates": ["region:gn-504003"], "text": "Пушкина",
             "field": "text", "start": 6, "end": 13, "decision": "rejected", "score": 0.0,
             "why": "'Пушкина' is also a first name or surname"},
            {"dimension": "region", "id": None, "candidates": [], "text": "Smallvillegrad", "field": "text",
             "start": 20, "end": 34, "decision": "not proposed", "score": "",
             "why": "not in the gazetteer: no alias matches 'Smallvillegrad'"}]
    lines = explain_lines(rows)
    assert lines[0] == "region: REJECTED  'Пушкина'  (text 6-13)  score 0.0"
    assert lines[1] == "    tag: region:gn-504003"
    assert lines[2] == "    why: 'Пушкина' is also a first name or surname"
    assert lines[3] == "region: NOT PROPOSED  'Smallvillegrad'  (text 20-34)"
    assert lines[4] == "    tag: -" and lines[5].startswith("    why: not in the gazetteer")
    assert all("│" not in line and "┃" not in line for line in lines)


def test_plain_lines_say_what_a_tag_id_stands_for() -> None:
    rows = [{"dimension": "region", "id": "region:gn-499099", "candidates": ["region:gn-499099"], "text": "Самаре",
             "field": "text", "start": 9, "end": 15, "decision": "about", "score": 6.0,
             "names": ["region:gn-499099 (Samara, city, RU)"], "why": "unambiguous gazetteer name"}]
    assert explain_lines(rows)[1] == "    tag: region:gn-499099 (Samara, city, RU)"
