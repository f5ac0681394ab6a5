"""Answering: abstain or choose a verdict from the cited clause's wording, then phrase it.

The answer stage, after retrieval (`assistant.retrieval`) and the trained stage
(`assistant.rerank`). `compose_answer` is its one entry point; it answers in the band those
stages decided (`Evidence.band`) and decides no abstention of its own.

- `assistant.answering.verdict`: which kind of answer the question wants (`wants_verdict`),
  the clause sentence that answers it (`key_sentence`), that sentence's deontic reading
  (`modality`: must not, may, only with, unless, must …) and the verdict it gives
  (`decide_verdict`: yes / no / conditional / info).
- `assistant.answering.phrasing`: the answer as one plain-English sentence (`plain_answer`,
  `short_title`).
- `assistant.answering.compose`: the `Answer` in its band, its citations and review note
  (`compose_answer`), and whom to contact (`with_handover`).
"""

from .compose import MAX_CITATIONS, SECONDARY_MARGIN, compose_answer, with_handover
from .phrasing import MAX_TITLE_CHARS, plain_answer, short_title
from .verdict import Modality, decide_verdict, key_sentence, modality, wants_verdict

__all__ = [
    "MAX_CITATIONS",
    "MAX_TITLE_CHARS",
    "SECONDARY_MARGIN",
    "Modality",
    "compose_answer",
    "decide_verdict",
    "key_sentence",
    "modality",
    "plain_answer",
    "short_title",
    "wants_verdict",
    "with_handover",
]
