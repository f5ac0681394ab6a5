"""Text handling shared by the pipeline: the sentence splitter, the tokeniser, the stemmer and the stop list.

Chunking, indexing, retrieval, answering and the safeguarding detector all split, tokenise
or stem text; they do it here, so they agree on what a sentence and a word are. Where two
callers need different behaviour, the difference is a named parameter, and the caller says
why it needs its mode:

- `split_sentences`: one boundary rule ("." / "!" / "?" then a capital); answering also
  splits at ";" (``at_semicolons``) and reads typed questions more loosely (``typed``).
- `words`: the tokeniser (lower-cased runs of a–z, digits, apostrophes); chunking counts
  letter-only words (``letters_only``).
- `stemmer` / `content_stems`: the English Snowball stemmer (PyStemmer), one per thread.
- `stop_words`: bm25s' English stop list, which the lexical index uses, plus the words that
  say nothing about a policy question's topic (`POLICY_STOP_WORDS`), less "but"
  (`COUNTED_BM25_STOP_WORDS`).
- `bm25_tokenize`: the lexical index's tokens, made by bm25s itself (its own token pattern),
  since the BM25 scores, and so the ranking, depend on them.
"""

from __future__ import annotations

import re
import threading
from functools import cache

# --- sentences -------------------------------------------------------------------------

#: Sentence boundaries, by (at_semicolons, typed): the space after ".", "!" or "?" (and ";")
#: before a capital, bracket or quote; typed text needs no capital and also breaks at a
#: spaced dash.
_SENTENCE_BOUNDARIES = {
    (False, False): re.compile(r"(?<=[.!?])\s+(?=[A-Z(\"'“‘])"),
    (True, False): re.compile(r"(?<=[.!?;])\s+(?=[A-Z(\"'“‘])"),
    (False, True): re.compile(r"(?<=[.!?])\s+| - | – | — "),
    (True, True): re.compile(r"(?<=[.!?;])\s+| - | – | — "),
}


def split_sentences(text: str, *, at_semicolons: bool = False, typed: bool = False) -> list[str]:
    """Split ``text`` into sentences.

    A sentence ends at ".", "!" or "?" followed by whitespace and then a capital letter, an
    opening bracket or a quote mark: "… the school. Staff must …" splits, "e.g. the class"
    and "3.5 hours" do not.

    Args:
        text: any text (a clause, a lead-in, a question).
        at_semicolons: also end a sentence at ";" (still before a capital). Answering sets
            it for a clause: policies join separate rules with ";" ("Pupils may bring
            phones; Phones must be handed in …") and a verdict rests on one rule. Chunking
            (a lead-in's last sentence) and indexing (the sentences that get a vector of
            their own) do not: their splits decide the stored clauses and vectors.
        typed: read ``text`` as people type it (a question): a sentence may start in lower
            case ("thanks. can i …") and a spaced hyphen or dash (" - ", " – ", " — ") ends
            one too ("A mate sent me a meme - can I forward it?"). Policy text keeps the
            stricter rule, where a dash joins the parts of one rule.

    Returns:
        the sentences in order, unstripped, without the whitespace (or dash) between them;
        ``[text]`` when there is no boundary, so never an empty list.
    """
    return _SENTENCE_BOUNDARIES[(at_semicolons, typed)].split(text)


# --- words -----------------------------------------------------------------------------

_WORD = re.compile(r"[a-z0-9']+")
_LETTER_WORD = re.compile(r"[A-Za-z]{2,}")


def words(text: str, *, letters_only: bool = False) -> list[str]:
    """The words of ``text``, lower-cased, in order.

    Args:
        text: any text.
        letters_only: count only runs of two or more ASCII letters ("Year 5 pupils' work"
            → year, pupils, work). Chunking sets it when it asks whether a block has words
            enough to be a clause, or whether a heading restates the title: a page number,
            an item marker ("a)") or a stray letter is no word there.

    Returns:
        by default the runs of letters a–z, digits and apostrophes after lower-casing
        ("Don't post year 5's photos" → don't, post, year, 5's, photos); any other character
        (space, hyphen, curly quote, accented letter) separates words.
    """
    if letters_only:
        return [w.lower() for w in _LETTER_WORD.findall(text)]
    return _WORD.findall(text.lower())


# --- stems and stop words --------------------------------------------------------------

#: Stop words on top of bm25s' English list: words of three or more letters found in
#: nearly every policy question or clause ("can", "should", "school", "use", …), which would
#: otherwise decide which sentence of a clause shares most words with a question.
POLICY_STOP_WORDS = frozenset(
    {
        "you",
        "your",
        "our",
        "can",
        "may",
        "any",
        "all",
        "were",
        "been",
        "them",
        "its",
        "who",
        "what",
        "when",
        "where",
        "how",
        "why",
        "which",
        "would",
        "should",
        "could",
        "about",
        "also",
        "only",
        "other",
        "than",
        "those",
        "being",
        "does",
        "did",
        "doing",
        "just",
        "very",
        "some",
        "more",
        "most",
        "own",
        "same",
        "off",
        "out",
        "over",
        "under",
        "again",
        "once",
        "here",
        "both",
        "each",
        "few",
        "nor",
        "too",
        "have",
        "has",
        "from",
        "school",
        "use",
        "used",
        "using",
    }
)

#: Words of bm25s' English list that `content_stems` still counts. "but" always has: it weighs
#: in `assistant.answering.key_sentence`'s length penalty and in its shared words ("… but we
#: need one for our project"), and dropping it changes the chosen sentence, and then the verdict,
#: for some question/clause pairs of the banks (e.g. holdout ho009 against a baseline chunk:
#: yes → conditional). Dropping it is a change of answers, to be measured on the banks first.
COUNTED_BM25_STOP_WORDS = frozenset({"but"})

_local = threading.local()


def stemmer():
    """This thread's English Snowball stemmer (``Stemmer.Stemmer("english")``, PyStemmer).

    A PyStemmer object keeps internal state and must not be used by two threads at once,
    so each thread gets its own; all give the same stems.

    Returns:
        a ``Stemmer.Stemmer`` (``stemWord(str) -> str``, ``stemWords(list) -> list``).
    """
    instance = getattr(_local, "stemmer", None)
    if instance is None:
        import Stemmer

        instance = _local.stemmer = Stemmer.Stemmer("english")
    return instance


@cache
def stop_words() -> frozenset[str]:
    """The stop list of `content_stems`: bm25s' English stop words and `POLICY_STOP_WORDS`.

    bm25s' list (``bm25s.stopwords.STOPWORDS_EN``) is the one the lexical index drops
    (`bm25_tokenize`), less `COUNTED_BM25_STOP_WORDS`; it is read on first use, so
    importing this module stays light.

    Returns:
        lower-case words, apostrophes included where a word has one.
    """
    from bm25s.stopwords import STOPWORDS_EN

    return (frozenset(STOPWORDS_EN) - COUNTED_BM25_STOP_WORDS) | POLICY_STOP_WORDS


#: Words (apostrophe-free parts of words) shorter than this carry no topic for `content_stems`.
MIN_CONTENT_CHARS = 3


def content_stems(text: str) -> set[str]:
    """The stemmed content words of ``text``, to count the words a question and a sentence share.

    The `words` of ``text`` are split at apostrophes ("don't" → "don", "t"; "school's" →
    "school", "s"); parts of fewer than `MIN_CONTENT_CHARS` characters and `stop_words` are
    dropped; the rest are stemmed by `stemmer` ("photographs" → "photograph").

    Args:
        text: any text.

    Returns:
        the set of stems (empty when ``text`` has no content word).
    """
    stop, stem = stop_words(), stemmer().stemWord
    parts = (part for word in words(text) for part in word.split("'"))
    return {stem(part) for part in parts if len(part) >= MIN_CONTENT_CHARS and part not in stop}


def bm25_tokenize(texts: list[str], *, return_ids: bool = True):
    r"""Tokenise ``texts`` for the BM25 index, by ``bm25s.tokenize`` itself.

    bm25s' own token pattern (``\w\w+``, Unicode) after lower-casing, its English stop
    list (``"en"``) dropped, each token stemmed by `stemmer`. The index and its queries
    must be tokenised alike, and the BM25 scores (so the fused ranking) depend on these
    tokens, hence bm25s' pattern rather than `words`.

    Args:
        texts: the texts (clauses at indexing, one query at search).
        return_ids: as ``bm25s.tokenize``: True for a ``bm25s.tokenization.Tokenized``
            (``ids``, ``vocab``) to index; False for one list of token strings per text.

    Returns:
        what ``bm25s.tokenize`` returns for ``return_ids``.
    """
    import bm25s

    return bm25s.tokenize(texts, stopwords="en", stemmer=stemmer(), return_ids=return_ids, show_progress=False)
