"""The one text module: sentence splitter, tokeniser, stemmer and stop list (hand-written cases)."""

from __future__ import annotations

import threading

import pytest

from assistant.text import (
    COUNTED_BM25_STOP_WORDS,
    POLICY_STOP_WORDS,
    bm25_tokenize,
    content_stems,
    split_sentences,
    stemmer,
    stop_words,
    words,
)

pytestmark = pytest.mark.unit


def test_a_sentence_ends_before_a_capital_bracket_or_quote() -> None:
    text = 'Phones are kept in the office. Staff must not use them. (See page 4.) "Always" ask first.'
    assert split_sentences(text) == [
        "Phones are kept in the office.",
        "Staff must not use them.",
        # ".)" is no boundary: the stop must come right before the space.
        '(See page 4.) "Always" ask first.',
    ]
    assert split_sentences('Ask first! "Always." Then wait? ‘Yes’.') == ["Ask first!", '"Always." Then wait?', "‘Yes’."]


def test_abbreviations_decimals_and_lower_case_continuations_do_not_split() -> None:
    text = "Devices, e.g. tablets, last 3.5 hours. etc. is no new sentence!"
    assert split_sentences(text) == [text]


def test_semicolons_split_only_when_asked() -> None:
    text = "Pupils may bring phones; Phones must be handed in at 8.45am; they are returned at 3pm."
    assert split_sentences(text) == [text]
    assert split_sentences(text, at_semicolons=True) == [
        "Pupils may bring phones;",
        "Phones must be handed in at 8.45am; they are returned at 3pm.",
    ]


def test_typed_text_splits_before_lower_case_and_at_spaced_dashes() -> None:
    question = "a mate sent me a meme - can i forward it? thanks. what about videos – or gifs — too"
    assert split_sentences(question) == [question]
    assert split_sentences(question, typed=True) == [
        "a mate sent me a meme",
        "can i forward it?",
        "thanks.",
        "what about videos",
        "or gifs",
        "too",
    ]
    assert split_sentences("ok; so can i?", typed=True) == ["ok; so can i?"]
    assert split_sentences("ok; so can i?", at_semicolons=True, typed=True) == ["ok;", "so can i?"]
    assert split_sentences("a well-known e-safety rule", typed=True) == ["a well-known e-safety rule"]


def test_a_text_without_a_boundary_is_one_sentence() -> None:
    assert split_sentences("") == [""]
    assert split_sentences("No full stop here") == ["No full stop here"]


def test_words_are_lower_cased_runs_of_letters_digits_and_apostrophes() -> None:
    assert words("Don't post Year 5's photos on Insta-gram!") == ["don't", "post", "year", "5's", "photos", "on", "insta", "gram"]
    assert words("Café “quotes”") == ["caf", "quotes"]
    assert words("") == []


def test_letter_words_skip_digits_markers_and_single_letters() -> None:
    assert words("a) Year 5 pupils' work, p. 12", letters_only=True) == ["year", "pupils", "work"]
    assert words("Mr O'Neill", letters_only=True) == ["mr", "neill"]


def test_content_stems_drop_short_parts_and_stop_words_and_stem_the_rest() -> None:
    assert content_stems("Can staff post photographs of the pupils?") == {"staff", "post", "photograph", "pupil"}
    # "don't" splits at the apostrophe: "don" is kept, "t" is too short.
    assert content_stems("Don't use the school's phones") == {"don", "phone"}
    assert content_stems("but what should we do") == {"but"}


def test_the_stop_list_is_bm25s_english_list_plus_the_policy_words_less_but() -> None:
    from bm25s.stopwords import STOPWORDS_EN

    assert stop_words() == (frozenset(STOPWORDS_EN) - COUNTED_BM25_STOP_WORDS) | POLICY_STOP_WORDS
    assert {"the", "and", "such", "can", "should", "school", "use"} <= stop_words()
    assert "but" not in stop_words()
    assert not {"phone", "photograph", "staff"} & stop_words()


def test_bm25_tokens_use_bm25s_pattern_stop_list_and_the_stemmer() -> None:
    # bm25s keeps one-letter-free \w\w+ tokens, unlike `words`: "5" and the "t" of "don't" go,
    # "school" and "can" stay (they are not in bm25s' list).
    assert bm25_tokenize(["Don't post the school's photos of Year 5 pupils"], return_ids=False) == [
        ["don", "post", "school", "photo", "year", "pupil"]
    ]
    tokenized = bm25_tokenize(["Phones are banned", "Photos are allowed"])
    assert sorted(tokenized.vocab) == ["allow", "ban", "phone", "photo"]


def test_each_thread_has_its_own_stemmer() -> None:
    mine = stemmer()
    assert stemmer() is mine
    theirs = []
    thread = threading.Thread(target=lambda: theirs.append(stemmer()))
    thread.start()
    thread.join()
    assert theirs[0] is not mine
    assert theirs[0].stemWord("photographs") == mine.stemWord("photographs") == "photograph"
