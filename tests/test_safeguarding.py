"""Safeguarding questions are never "not covered" (issue 18, item 4).

The committed detector (``assistant/trained/safeguarding/``) is measured again here on the
held-out questions (``training/safeguarding/test.jsonl``) from its committed weights, and
must meet the issue's target; a concern asked of the real assistant over the real corpus
gets the fixed message naming the school's Designated Safeguarding Lead first, then the
policy; look-alike questions are answered as before; the question log flags the rows.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from assistant.contacts import read_contacts, safeguarding_message
from assistant.question_log import QuestionLog
from assistant.safeguarding import MODEL_DIR, NGRAM_BUCKETS, SafeguardingDetector, ngram_features
from training.safeguarding import TEST, TRAIN, file_hash, metrics, read_rows, threshold_for_recall

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = json.loads((MODEL_DIR / "manifest.json").read_text(encoding="utf-8"))

#: Concerns asked the way staff, parents and pupils ask them (none is in the training data).
CONCERNS = [
    ("st-michaels", "staff", "A year 10 girl has started messaging my personal Instagram account, what should I do?"),
    ("glais", "parent", "Someone on a game keeps asking my 9 year old daughter to send him pictures"),
    ("shirley-warren", "pupil", "people keep sayin theyll beat me up after school n i dont want to go in"),
    ("st-margarets", "staff", "A child in my class told me her stepdad hurts her"),
    ("beaudesert-park", "parent", "I think my son has been self harming, he has cuts on his arms"),
]
#: Look-alikes: the same words, no concern.
LOOK_ALIKES = [
    ("glais", "parent", "Can I post a photo of my child's friend?"),
    ("st-michaels", "parent", "Can my child bring a phone?"),
    ("st-michaels", "staff", "What's the policy on bullying in the anti-bullying week assembly rota?"),
    ("shirley-warren", "staff", "Can I share my password with the teaching assistant?"),
]


# --- the committed detector ---------------------------------------------------------------


@pytest.mark.integration
def test_the_committed_detector_meets_the_target_on_the_held_out_questions():
    detector = SafeguardingDetector.load()
    rows = read_rows(TEST)
    y = np.array([r["label"] for r in rows])
    found = metrics(y, detector.scores([r["text"] for r in rows]), detector.threshold)
    assert found["recall"] >= 0.95 and found["precision"] >= 0.85, found
    # The numbers the manifest (and the READMEs) report are these, recomputed from the weights.
    reported = MANIFEST["held_out"]
    assert {k: found[k] for k in ("precision", "recall", "tp", "fp", "fn", "tn")} == {
        k: reported[k] for k in ("precision", "recall", "tp", "fp", "fn", "tn")
    }


@pytest.mark.unit
def test_the_committed_data_is_what_the_detector_was_trained_and_measured_on():
    assert file_hash(TRAIN) == MANIFEST["train_sha256"], "train.jsonl changed: run `python -m training.safeguarding`"
    assert file_hash(TEST) == MANIFEST["test_sha256"], "test.jsonl changed: run `python -m training.safeguarding`"


@pytest.mark.unit
def test_the_training_data_has_hundreds_of_each_kind_and_the_held_out_set_is_separate():
    train, test = read_rows(TRAIN), read_rows(TEST)
    assert sum(r["label"] for r in train) >= 300 and sum(1 - r["label"] for r in train) >= 300
    assert sum(r["label"] for r in test) >= 100 and sum(1 - r["label"] for r in test) >= 100

    def key(text: str) -> str:
        return " ".join(text.lower().split())

    assert not {key(r["text"]) for r in train} & {key(r["text"]) for r in test}


@pytest.mark.unit
def test_the_threshold_is_the_highest_that_keeps_the_recall():
    y = np.array([1, 1, 1, 1, 0, 0])
    prob = np.array([0.9, 0.8, 0.6, 0.3, 0.7, 0.1])
    assert threshold_for_recall(y, prob, 0.75) == pytest.approx(0.6)
    assert metrics(y, prob, 0.6) == {"precision": 0.75, "recall": 0.75, "f1": 0.75, "tp": 3, "fp": 1, "fn": 1, "tn": 1}


@pytest.mark.unit
def test_ngram_features_are_a_unit_vector_of_hashed_buckets_that_catch_typos():
    index, values = ngram_features("Pupil keeps DMin me on insta")
    assert index.min() >= 0 and index.max() < NGRAM_BUCKETS
    assert float(np.linalg.norm(values)) == pytest.approx(1.0)
    shared = set(index.tolist()) & set(ngram_features("pupil keeps dming me on instagram")[0].tolist())
    assert len(shared) > len(index) / 2
    assert ngram_features("")[0].size == 0


# --- the assistant ------------------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.parametrize(("school", "audience", "question"), CONCERNS)
def test_a_safeguarding_question_starts_with_the_dsl_and_is_never_not_covered(bot, school, audience, question):
    answer = bot.ask(question, school, audience)
    dsl = read_contacts(ROOT / "corpus" / school / "school.toml").dsl
    assert answer.safeguarding and answer.verdict != "not_covered" and answer.band != "not_covered"
    assert answer.text.startswith(safeguarding_message(read_contacts(ROOT / "corpus" / school / "school.toml")))
    assert dsl.role in answer.text and dsl.phone in answer.text and dsl.email in answer.text and "999" in answer.text
    assert answer.handover.reason == "safeguarding" and answer.handover.dsl == dsl.to_dict()


@pytest.mark.integration
def test_the_policys_clause_follows_the_message_when_retrieval_finds_one(bot):
    school, audience, question = CONCERNS[0]
    answer = bot.ask(question, school, audience)
    assert answer.citations, "retrieval found no clause"
    message, _, rest = answer.text.partition("\n\n")
    assert message == answer.handover.message
    assert answer.citations[0].document_title in rest


@pytest.mark.integration
@pytest.mark.parametrize(("school", "audience", "question"), LOOK_ALIKES)
def test_look_alike_questions_are_answered_as_before(bot, school, audience, question):
    answer = bot.ask(question, school, audience)
    assert not answer.safeguarding
    assert "safeguarding concern" not in answer.text
    assert answer.handover is None or answer.handover.reason != "safeguarding"


# --- the question log flag ----------------------------------------------------------------


@pytest.mark.unit
def test_the_question_log_flags_rows_for_the_dsl_and_adds_the_flag_to_an_older_log(tmp_path):
    path = tmp_path / "questions.sqlite3"
    with sqlite3.connect(path) as db:  # a log written before issue 18, without the column
        db.execute(
            "CREATE TABLE questions (id INTEGER PRIMARY KEY, asked_at REAL NOT NULL, school TEXT NOT NULL, audience TEXT,"
            " question TEXT NOT NULL, normalised TEXT NOT NULL, verdict TEXT NOT NULL, clause_id TEXT, follow_up INTEGER NOT NULL DEFAULT 0)"
        )
        db.execute(
            "INSERT INTO questions (asked_at, school, question, normalised, verdict) VALUES (strftime('%s'), 'glais', 'q', 'q', 'yes')"
        )
    log = QuestionLog(path)
    log.record("glais", "my daughter's teacher keeps texting her, my number is 07700 900123", "info", "parent", safeguarding=True)
    log.record("glais", "can I post sports day videos?", "conditional", "parent")
    log.close()
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT question, safeguarding FROM questions ORDER BY id").fetchall()
    assert [flag for _, flag in rows] == [0, 1, 0]
    assert "07700 900123" not in rows[1][0]
