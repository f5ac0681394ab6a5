"""The verdict: which kind of answer a question wants, and what the cited clause's wording rules.

The verdict comes from the clause, not from the question alone: the question decides
only *what kind* of answer is wanted (a permission/obligation question → yes / no /
conditional; a what/where/who/how question → info), and the deontic modality of the
clause's key sentence (must not, may, only with, unless, must …) decides which.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ..retrieval import expand_query, is_follow_up
from ..text import content_stems, split_sentences

# --- question type -------------------------------------------------------------------

_INFO_START = re.compile(r"^\s*(what|where|who|whom|whose|when|which|how|why|tell me|explain|describe|list)\b", re.IGNORECASE)
_FOLLOW_UP_OPENER = re.compile(r"^\s*(and\s+)?(what if|what about|how about|and if)\b", re.IGNORECASE)
_YES_NO_START = re.compile(
    r"^\s*(can|could|may|might|am|is|are|do|does|did|should|shall|must|will|would|have|has|was|were|it's|its)\b", re.IGNORECASE
)
_YES_NO_ANYWHERE = re.compile(
    r"\b(can|could|may|am|should|must|do|does)\s+(i|we|staff|parents|pupils|visitors|governors|my|our|the school|they)\b|"
    r"\b(is it|it's|am i|are we|is that)\s+(ok|okay|alright|fine|allowed|acceptable|a problem)\b|\b(allowed|permitted) to\b|"
    r"\b(will|would|can|could) (you|the school|they|someone|anyone)\b",
    re.IGNORECASE,
)
_CHOICE = re.compile(r"\bor\s+(do|does|should|can|will|is|are|am|must)\s+(i|we|you|they|it)\b", re.IGNORECASE)
_OBLIGATION_Q = re.compile(
    r"\b(do|does) (i|we|staff|they|you|parents|pupils) (actually |really |still )?(have|need) to\b|\b(should|must) (i|we|staff)\b|"
    r"\bam i (expected|required|meant|supposed)\b|\bhave to\b|\bneed to\b|\bsupposed to\b",
    re.IGNORECASE,
)


def _asked_segment(question: str) -> str:
    """The part of a question that asks ("A mate sent me a meme - can I forward it?" → "can I forward it?")."""
    # A question is typed: its sentences may start in lower case, and a dash can end one.
    segments = [seg.strip() for seg in split_sentences(question.strip(), at_semicolons=True, typed=True) if seg.strip()]
    asked = [seg for seg in segments if seg.endswith("?")]
    return (asked or segments or [question])[-1]


def wants_verdict(question: str, history: list[str] | None = None) -> bool:
    """True for permission/obligation questions (yes/no/conditional), False for info questions.

    The asked part of the question decides (a preamble like "My mum's in hospital." is
    context); a follow-up like "what about videos?" asks the same kind of question as the
    one before; "does the school X, or do I need to Y?" asks which, so it wants info.
    """
    asked = _asked_segment(question)
    # "I think my friend knows my password, what should I do?": the question after the comma
    tail = asked.rsplit(", ", 1)[-1]
    if tail != asked and not _FOLLOW_UP_OPENER.match(asked) and (_INFO_START.match(tail) or _YES_NO_START.match(tail)):
        asked = tail
    if _FOLLOW_UP_OPENER.match(asked):
        if history and is_follow_up(question):
            return wants_verdict(history[-1])
        # Asked on its own, "what if she's ill on the trip day?" asks what happens (info),
        # unless it goes on to ask for a verdict ("…, can I post it then?", "…, do the studs
        # still need taping?").
        return bool(_YES_NO_ANYWHERE.search(asked) or (tail != asked and _YES_NO_START.match(tail)))
    if _CHOICE.search(asked):
        return False
    if _INFO_START.match(asked):
        return False
    return bool(_YES_NO_START.match(asked) or _YES_NO_ANYWHERE.search(asked))


# --- clause modality -----------------------------------------------------------------

_PROHIBITION = re.compile(
    r"\b(must not|mustn't|must never|should not|shouldn't|should never|may not|cannot|can't|can not|"
    r"not (be )?(permitted|allowed)|are not expected to|not (considered )?acceptable|prohibit(s|ed)?|forbidden|"
    r"never|do not|don't|no user shall|under no circumstances|will not|won't|not to|is illegal|are asked not|"
    r"not be used|neither|nor|accepts no|no responsibility|not responsible|not (be )?tolerated|(is|are|be) not|"
    r"no .{0,40} (is|are) (allowed|permitted))\b|(^|[:;]\s*)(not|never)\b",
    re.IGNORECASE,
)
_CONDITION = re.compile(
    r"\b(unless\b.*|without (the |their |a |any )?(prior |written |express |specific |explicit |parental )?"
    r"(permission|consent|authori[sz]ation|agreement|approval)\b.*|only (if|with|when|after|following|by|once|where)\b.*|"
    r"except\b.*|provided (that|you|they|he|she|it|staff|pupils|parents|users?|the)\b.*|as long as\b.*|in exceptional circumstances\b.*|"
    r"with (the |their |a )?(prior |written |express |specific |parental )?(permission|consent|agreement|approval|authority)\b.*|"
    r"following (parental )?(consent|agreement)\b.*|by arrangement\b.*|if deemed necessary\b.*|as mutually agreed\b.*|"
    r"in urgent cases\b.*|(must|should) be (approved|authori[sz]ed|agreed)\b.*|permission must be sought\b.*|but (may|can)\b.*|"
    r"permission (is|has been) (granted|given)\b.*)",
    re.IGNORECASE,
)
#: "Only a soft cloth … is to be used": a restriction to the thing named after "only".
_ONLY = re.compile(
    r"\bonly\b\s+(?!if\b|with\b|when\b|after\b|following\b|by\b|once\b|where\b)((?:(?!\b(?:is|are|can|may|should|must|will)\b)[^.;:]){3,80})",
    re.IGNORECASE,
)
_ALTERNATIVE = re.compile(r"\b(rather than|instead of)\b", re.IGNORECASE)
_PERMISSION = re.compile(r"\b(may|can|could|allowed|permitted|welcome|acceptable|is fine|are able to|allows|available)\b", re.IGNORECASE)
_OBLIGATION = re.compile(
    r"\b(must|should|required|are expected to|is expected to|have a duty|has a duty|need to|needs to|has to|"
    r"have to|are asked to|is asked to|is classed as|are responsible|is responsible|remains responsible|always|is to be)\b",
    re.IGNORECASE,
)
#: An obligation worded as keeping something away or private answers "can I …?" with no.
_RESTRICTIVE = re.compile(r"\b(private|confidential|secure|securely|out of|away from|locked|kept within)\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Modality:
    """Deontic reading of a clause sentence.

    Attributes:
        prohibition, permission, obligation: whether the sentence forbids, allows, requires;
        condition: the wording of a condition ("unless prior permission …"), or "";
        only: what an "only …" restriction allows ("a soft cloth or approved … solution"), or "";
        preferred, dispreferred: the two sides of "X rather than Y" ("" when absent).
    """

    prohibition: bool
    condition: str
    permission: bool
    obligation: bool
    only: str = ""
    preferred: str = ""
    dispreferred: str = ""

    @property
    def deontic(self) -> bool:
        """True when the sentence states a rule of any kind."""
        return bool(self.prohibition or self.condition or self.permission or self.obligation or self.only)


#: "If an iPad is left at home or is not charged, …": the circumstance a rule applies in,
#: whose negation forbids nothing.
_ANTECEDENT = re.compile(r"(^|:\s+)(if|when|where|whenever)\b[^,:;]{0,150},\s*", re.IGNORECASE)


def modality(sentence: str) -> Modality:
    """Read the deontic modality of one sentence (its lead-in included)."""
    cond = _CONDITION.search(sentence)
    only = _ONLY.search(sentence)
    alt = _ALTERNATIVE.search(sentence)
    return Modality(
        prohibition=bool(_PROHIBITION.search(_ANTECEDENT.sub(r"\1", sentence))),
        condition=cond.group(0).strip().rstrip(".;,") if cond else "",
        permission=bool(_PERMISSION.search(sentence)),
        obligation=bool(_OBLIGATION.search(sentence)),
        only=only.group(1).strip() if only else "",
        preferred=sentence[: alt.start()] if alt else "",
        dispreferred=sentence[alt.end() :] if alt else "",
    )


# --- key sentence and verdict -------------------------------------------------------


def key_sentence(citation_text: str, query: str, sentence_similarity: dict[str, float] | None = None) -> str:
    """The sentence of a clause that best answers the query, lead-in kept.

    With ``sentence_similarity`` (a clause sentence → its vector's cosine similarity to
    the query, from the index's per-sentence vectors, see `assistant.index.units.embedding_units`) the
    most similar sentence wins; a sentence split finer than the index's (at ";") takes
    the similarity of the sentence holding it. Without it, or when no sentence has one,
    the sentence with the most query words wins. When the winner states no rule ("Access
    to 3Sys … is available to all staff.") a sentence that does ("Staff must ensure this
    management data is not accessed in a public place.") is used, since a verdict must
    rest on a rule: the most similar one, else the nearest.
    """
    # At semicolons too: a clause often joins several rules with ";" and the verdict rests on one.
    sentences = [s for s in split_sentences(citation_text, at_semicolons=True) if s.strip()]
    if len(sentences) <= 1:
        return citation_text.strip()
    q = content_stems(expand_query(query))

    def overlap(s: str) -> float:
        words = content_stems(s)
        return len(words & q) / (1 + 0.02 * len(words))

    def similarity(s: str) -> float:
        held = [sim for text, sim in (sentence_similarity or {}).items() if s.strip() in text]
        return max(held) if held else -np.inf

    dense = [similarity(s) for s in sentences]
    mods = [modality(s) for s in sentences]
    if any(np.isfinite(dense)):
        best = max(range(len(sentences)), key=lambda i: (dense[i], mods[i].prohibition, -i))
    else:
        # On a tie, the prohibition: wrongly saying "no" costs a reader less than wrongly "yes".
        best = max(range(len(sentences)), key=lambda i: (overlap(sentences[i]), mods[i].prohibition, -i))
    if not mods[best].deontic:
        ruled = [i for i, m in enumerate(mods) if m.deontic]
        if ruled and any(np.isfinite(dense[i]) for i in ruled):
            best = max(ruled, key=lambda i: (dense[i], -i))
        elif ruled:
            best = min(ruled, key=lambda i: (abs(i - best), i))
    text = sentences[best].strip()
    # A sentence ending in ":" introduces the next one; keep them together.
    if best > 0 and sentences[best - 1].rstrip().endswith(":"):
        text = f"{sentences[best - 1].strip()} {text}"
    return text


def decide_verdict(question: str, sentence: str, history: list[str] | None = None) -> tuple[str, Modality]:
    """Verdict for a question answered by ``sentence`` (a clause's key sentence with lead-in).

    Returns:
        ``(verdict, modality)``; verdict is one of yes / no / conditional / info.
    """
    mod = modality(sentence)
    if not wants_verdict(question, history):
        return "info", mod
    q = _asked_segment(question).lower()
    asks_obligation = bool(_OBLIGATION_Q.search(q))
    asks_permission = bool(re.search(r"\b(can|could|may|allowed|ok|okay|alright|fine|permitted)\b", q)) and not asks_obligation
    asked = content_stems(expand_query(question))
    if mod.preferred and mod.dispreferred:
        # "complain through school channels rather than posting online": which side is asked?
        # A tie is answered "no": the sentence steers away from one of the two.
        preferred = len(asked & content_stems(expand_query(mod.preferred)))
        return ("yes" if preferred > len(asked & content_stems(expand_query(mod.dispreferred))) else "no"), mod
    unconditioned = " without " in f" {q} " and mod.condition.lower().startswith("without")
    if mod.condition and not unconditioned:
        return "conditional", mod
    # "Only a soft cloth … is to be used to clean the iPad screen" vs "can I use a baby wipe on
    # my iPad screen?": the words the sentence already shares with the question (iPad, screen)
    # say what is being done; whether the question names the allowed thing decides.
    own_words = asked - content_stems(sentence.replace(mod.only, " "))
    if mod.only and asks_permission and not (own_words & content_stems(mod.only)):
        return "no", mod  # only X is allowed, and the question asks about something else
    if mod.prohibition:
        return "no", mod
    if mod.only:
        return "conditional", mod
    if mod.obligation:
        if asks_obligation:
            return "yes", mod
        if asks_permission:
            return ("no" if _RESTRICTIVE.search(sentence) else "conditional"), mod
        return "yes", mod
    return "yes", mod
