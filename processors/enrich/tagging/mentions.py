"""Tagger working records: consumes nothing, defines the field and region-mention records the tagging stages pass on."""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Set

from spacy.tokens import Doc

from processors.enrich.tagging.gazetteer import Alias


@dataclass
class Field:
    """One text field of an item (title or text) and its tokens."""

    name: str
    text: str
    doc: Optional[Doc] = None


@dataclass
class Mention:
    """A gazetteer match in one field: its readings (entry ids), what the stages found and the decision."""

    entry_ids: List[str]
    alias: Alias
    field: str
    start: int
    end: int
    text: str
    tok_start: int
    tok_end: int
    dateline: bool = False
    chosen: Optional[str] = None
    status: str = "candidate"       # candidate | accepted | rejected | needs_ner
    reason: str = ""
    ner: Optional[str] = None
    resolved_by_context: bool = False
    modifier: bool = False          # an abbreviation used as a modifier ("U.S. soybeans")
    denomination: bool = False      # names only the currency of an amount ("40 mln Australian dlrs")
    org_name: bool = False          # part of a company or agreement name ("Toyota Motor Credit Corp")
    #: dateline city followed by its region ("SPRINGFIELD, Ill."): candidates must lie in one of these
    within: Optional[Set[str]] = None

    def reject(self, reason: str) -> None:
        self.status, self.reason = "rejected", reason

    def accept(self, entry_id: str, reason: str) -> None:
        self.chosen, self.status, self.reason = entry_id, "accepted", reason
