"""Answering: abstain or choose a verdict from the cited clause's wording, then phrase it.

The verdict comes from the clause, not from the question alone: the question decides
only *what kind* of answer is wanted (a permission/obligation question → yes / no /
conditional; a what/where/who/how question → info), and the deontic modality of the
clause's key sentence (must not, may, only with, unless, must …) decides which.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from .retrieval import Candidate, expand_query
from .types import Answer, Citation

# --- question type -------------------------------------------------------------------

_INFO_START = re.compile(r"^\s*(what|where|who|whom|whose|when|which|how|why|tell me|explain|describe|list)\b", re.IGNORECASE)
_NOT_INFO = re.compile(r"^\s*(what if|what about|how about|who can|who is allowed|what happens if i)\b", re.IGNORECASE)
_YES_NO_START = re.compile(
    r"^\s*(can|could|may|might|am|is|are|do|does|did|should|shall|must|will|would|have|has|was|were|it's|its)\b", re.IGNORECASE
)
_PERMISSION_WORDS = re.compile(r"\b(allowed|ok|okay|alright|permitted|fine|acceptable|able to|let me|supposed to)\b", re.IGNORECASE)
_OBLIGATION_Q = re.compile(r"\b(do|does) (i|we|staff|they|you) (have|need) to\b|\b(should|must) (i|we|staff)\b|\bam i (expected|required|meant)\b|\bhave to\b|\bneed to\b", re.IGNORECASE)


def wants_verdict(question: str, history: list[str] | None = None) -> bool:
    """True for permission/obligation questions (yes/no/conditional), False for info questions.

    A follow-up like "what about videos?" asks the same kind of question as the one before.
    """
    from .retrieval import is_follow_up

    q = question.strip()
    if _NOT_INFO.match(q) and history and is_follow_up(q):
        return wants_verdict(history[-1])
    if _INFO_START.match(q) and not _NOT_INFO.match(q):
        return False
    if _YES_NO_START.match(q) or _PERMISSION_WORDS.search(q) or _NOT_INFO.match(q):
        return True
    return False


# --- clause modality -----------------------------------------------------------------

_PROHIBITION = re.compile(
    r"\b(must not|mustn't|must never|should not|shouldn't|should never|may not|cannot|can't|can not|"
    r"not (be )?(permitted|allowed)|are not expected to|not (considered )?acceptable|prohibit(s|ed)?|forbidden|"
    r"never|do not|don't|no user shall|under no circumstances|will not|won't|not to|is illegal|are asked not|"
    r"not be used|is not|are not|does not|no .{0,40} (is|are) (allowed|permitted))\b",
    re.IGNORECASE,
)
_CONDITION = re.compile(
    r"\b(unless\b.*|without (the |their |a |any )?(prior |written |express |specific |explicit |parental )?"
    r"(permission|consent|authori[sz]ation|agreement|approval)\b.*|only (if|with|when|after|following|by|in|for|"
    r"using|once|where)\b.*|except\b.*|provided (that )?\b.*|as long as\b.*|in exceptional circumstances\b.*|"
    r"with (the |their |a )?(prior |written |express |specific |parental )?(permission|consent|agreement|approval|authority)\b.*|"
    r"following (parental )?(consent|agreement)\b.*|by arrangement\b.*|if deemed necessary\b.*|as mutually agreed\b.*|"
    r"in urgent cases\b.*|(must|should) be (approved|authori[sz]ed|agreed)\b.*|permission must be sought\b.*|"
    r"permission (is|has been) (granted|given)\b.*)",
    re.IGNORECASE,
)
_PERMISSION = re.compile(r"\b(may|can|could|allowed|permitted|welcome|acceptable|is fine|are able to|allows)\b", re.IGNORECASE)
_OBLIGATION = re.compile(
    r"\b(must|should|required|are expected to|is expected to|have a duty|has a duty|need to|needs to|has to|"
    r"have to|are asked to|is asked to|is classed as|are responsible|is responsible|always)\b",
    re.IGNORECASE,
)
_SENTENCE = re.compile(r"(?<=[.!?;])\s+(?=[A-Z(\"'“‘])")


@dataclass(frozen=True, slots=True)
class Modality:
    """Deontic reading of a clause sentence: prohibition, condition (its wording), permission, obligation."""

    prohibition: bool
    condition: str
    permission: bool
    obligation: bool


def modality(sentence: str) -> Modality:
    """Read the deontic modality of one sentence (its lead-in included)."""
    cond = _CONDITION.search(sentence)
    condition = cond.group(0).strip().rstrip(".;,") if cond else ""
    return Modality(
        prohibition=bool(_PROHIBITION.search(sentence)),
        condition=condition,
        permission=bool(_PERMISSION.search(sentence)),
        obligation=bool(_OBLIGATION.search(sentence)),
    )


def key_sentence(citation_text: str, query: str) -> str:
    """The sentence of a clause that best matches the query (word overlap), lead-in kept.

    A clause "Mobile phones are brought at your own risk. The school accepts no
    responsibility for loss." answers "is the school responsible if it's lost?" with
    its second sentence.
    """
    sentences = [s for s in _SENTENCE.split(citation_text) if s.strip()]
    if len(sentences) <= 1:
        return citation_text.strip()
    q = _stems(expand_query(query))

    def overlap(s: str) -> float:
        words = _stems(s)
        return len(words & q) / (1 + 0.02 * len(words))

    best = max(range(len(sentences)), key=lambda i: (overlap(sentences[i]), -i))
    text = sentences[best].strip()
    # A sentence ending in ":" introduces the next one; keep them together.
    if best > 0 and sentences[best - 1].rstrip().endswith(":"):
        text = f"{sentences[best - 1].strip()} {text}"
    return text


_STEM_CACHE: dict[str, str] = {}


def _stems(text: str) -> set[str]:
    import Stemmer

    stemmer = _STEM_CACHE.setdefault("_", Stemmer.Stemmer("english"))  # type: ignore[arg-type]
    words = re.findall(r"[a-z]{3,}", text.lower())
    return {stemmer.stemWord(w) for w in words if w not in _STOP}


_STOP = frozenset(
    "the and for are you your our can may not with this that from have has will any all was were been their they them "
    "its into who what when where how why which would should could about also only other than then there these those "
    "such being does did doing just very some more most own same off out over under again once here both each few "
    "nor too can't won't don't school".split()
)


def decide_verdict(question: str, sentence: str, history: list[str] | None = None) -> tuple[str, Modality]:
    """Verdict for a question answered by ``sentence`` (a clause's key sentence with lead-in).

    Returns:
        ``(verdict, modality)``; verdict is one of yes / no / conditional / info.
    """
    mod = modality(sentence)
    if not wants_verdict(question, history):
        return "info", mod
    q = question.lower()
    asks_obligation = bool(_OBLIGATION_Q.search(q))
    asks_unconditioned = " without " in f" {q} " and mod.condition.lower().startswith("without")
    if mod.condition and not asks_unconditioned:
        return "conditional", mod
    if mod.prohibition:
        return "no", mod
    if mod.obligation:
        return ("yes" if asks_obligation or not re.match(r"^\s*(can|could|may|am i allowed)\b", q) else "conditional"), mod
    if mod.permission:
        return "yes", mod
    return "yes", mod


# --- abstention ----------------------------------------------------------------------

#: Below this cosine similarity (query vs. best clause) an answer needs lexical support.
MIN_DENSE = 0.42
#: A clause this close to the query is taken as on-topic whatever its wording.
SURE_DENSE = 0.60
#: Share of the query's content words (stemmed, expanded) the top clause must contain.
MIN_COVERAGE = 0.34


def query_coverage(query: str, clause_text: str) -> float:
    """Share of the query's content stems that occur in the clause (expansions count)."""
    q_words = _stems(query)
    if not q_words:
        return 0.0
    c_words = _stems(expand_query(clause_text) + " " + clause_text)
    expanded = {w: _stems(expand_query(w)) for w in q_words}
    hit = sum(1 for w in q_words if expanded[w] & c_words)
    return hit / len(q_words)


def should_abstain(query: str, top: Candidate) -> bool:
    """True when the best clause does not answer the question (the policies don't cover it)."""
    if top.dense >= SURE_DENSE:
        return False
    if top.dense < MIN_DENSE:
        return True
    return query_coverage(query, top.clause.display_text) < MIN_COVERAGE


# --- composing -----------------------------------------------------------------------

#: Extra citations are shown only when their fused score is this close to the best one.
SECONDARY_RATIO = 0.85
MAX_CITATIONS = 3


def _condition_phrase(condition: str) -> str:
    c = condition.strip().rstrip(".;,")
    low = c.lower()
    if low.startswith("unless "):
        return "only if " + c[7:]
    if low.startswith("without "):
        return "only with " + c[8:]
    return c[0].lower() + c[1:] if c else c


def _review_note(meta: dict, today: dt.date) -> str | None:
    due = meta.get("next_review")
    if not due:
        return None
    year, month = int(due[:4]), int(due[5:7]) if len(due) >= 7 else 12
    if (year, month) >= (today.year, today.month):
        return None
    when = dt.date(year, month, 1).strftime("%B %Y") if len(due) >= 7 else str(year)
    return f"This policy was due for review in {when}; check with the school that it is still current."


def compose_answer(
    question: str,
    query: str,
    candidates: list[Candidate],
    school_name: str,
    documents: dict[str, dict],
    history: list[str] | None = None,
    today: dt.date | None = None,
) -> Answer:
    """Turn ranked candidates into an `Answer`.

    Args:
        question: as asked; query: the retrieval query (with follow-up context).
        candidates: ranked clauses of the asker's school (see `retrieval.fuse`).
        school_name: display name; documents: document id → manifest metadata (dates).
        today: the date review notes are judged against (default: today).
    """
    if not candidates or should_abstain(query, candidates[0]):
        return Answer(
            verdict="not_covered",
            text=f"{school_name}'s policies don't cover this. Please ask the school office.",
            citations=[],
        )
    top = candidates[0]
    citations = [Citation.from_clause(top.clause, top.score)]
    for cand in candidates[1:MAX_CITATIONS]:
        if cand.score >= SECONDARY_RATIO * top.score and not should_abstain(query, cand):
            citations.append(Citation.from_clause(cand.clause, cand.score))
    sentence = key_sentence(top.clause.display_text, query)
    verdict, mod = decide_verdict(question, sentence, history)
    source = f"{school_name}'s {top.clause.document_title}"
    quote = f"“{sentence}”"
    if verdict == "yes":
        text = f"Yes. {source} says: {quote}"
    elif verdict == "no":
        text = f"No. {source} says: {quote}"
    elif verdict == "conditional":
        phrase = _condition_phrase(mod.condition)
        text = f"Only in the circumstances the policy sets out — {phrase}. {source} says: {quote}"
    else:
        text = f"{source} says: {quote}"
    notes = []
    note = _review_note(documents.get(top.clause.document, {}), today or dt.date.today())
    if note:
        notes.append(note)
    return Answer(verdict=verdict, text=text, citations=citations, notes=notes)
