"""Clause chunking: split a policy document into the quotable rules a person would cite.

The chunker follows the document's own structure rather than a character budget:

* headings in any of the styles school policies use — markdown ``#`` headings, whole-line
  bold, ALL-CAPS lines, short standalone title lines, lettered/numbered section headings
  (``E. Safeguarding…``, ``1. Scope``) and ``Appendix N`` — build a section path;
* each paragraph, bullet or numbered item becomes one clause;
* a paragraph or bullet ending in ``:`` is a *lead-in*: the items under it carry it, so
  "Bring the School into disrepute;" reads "Staff must not … in a manner which may: Bring
  the School into disrepute;" on its own;
* signature/date lines, tables, link-only stubs and empty headings yield no clause;
* a passage the document repeats verbatim (the same words, lead-in included, whatever the
  whitespace, case or emphasis) yields one clause; a clause that differs by a word ("may not"
  for "may", "£50" for "£5", "Key Stage 2" for "Key Stage 1") is another rule and is kept.

Character offsets point into the original text, so a viewer can highlight the clause.

The package, by stage:

- `markup`: `clean_markup` (the words a reader sees), `normalise_for_match` (the form
  wordings are compared in) and link-stub detection.
- `headings`: which lines are headings (`headings.heading_of`) and how they nest into a
  section path (`headings.SectionStack`, joined by `SECTION_SEPARATOR`).
- `blocks`: lines to a stream of headings, paragraphs/list items and breaks; form lines and
  tables dropped, page-break splits rejoined.
- `clauses`: the stream to clauses (`chunk_document`): lead-ins, repeats, tables of
  contents, pages and stable ids (`clause_id_for`).
"""

from .clauses import chunk_document, clause_id_for
from .headings import SECTION_SEPARATOR
from .markup import clean_markup, normalise_for_match

__all__ = ["SECTION_SEPARATOR", "chunk_document", "clause_id_for", "clean_markup", "normalise_for_match"]
