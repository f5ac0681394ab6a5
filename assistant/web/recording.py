"""`record_answer`: what the server keeps of each answered question, for ``/api/ask`` and the staff chat alike.

An answered question is written twice, each store optional (None when it is off):

- to the question log (`assistant.question_log.QuestionLog`), redacted, for the policy-gap report
  (``/admin/report``): school, question, verdict, audience, the first cited clause, whether it was
  a follow-up and whether it raised a safeguarding concern;
- to the feedback store (`assistant.feedback.FeedbackStore`), for 👍/👎 and the admin page
  (``/admin/school``): the answer's verdict, band, confidence, cited clauses and the earlier
  questions, under a new ``answer_id`` (and a staff chat message's `chat_feedback.chat_key`).

Neither may cost anyone their answer: a failure is logged and answering goes on.
"""

from __future__ import annotations

import logging

from assistant import Answer
from assistant.feedback import FeedbackStore
from assistant.question_log import QuestionLog

log = logging.getLogger(__name__)


def record_answer(
    question_log: QuestionLog | None,
    feedback: FeedbackStore | None,
    school: str,
    audience: str | None,
    question: str,
    answer: Answer,
    history: list[str],
    chat_key: str | None = None,
) -> str | None:
    """Log an answered question and keep its answer for feedback.

    Args:
        question_log: where the question is logged, redacted (None: not logged).
        feedback: where the answer is kept for 👍/👎 (None: not kept).
        school: the school id the question was asked of.
        audience: the asker's role, or None.
        question: the question as answered (control characters already stripped).
        answer: the assistant's answer.
        history: the conversation's earlier questions, oldest first (empty for a first question).
        chat_key: the staff chat message's key (`chat_feedback.chat_key`), so a like on it finds the
            answer again; None for ``/api/ask``.

    Returns:
        The answer's ``answer_id`` in the feedback store, or None when there is no store or it failed.
    """
    if question_log is not None:
        try:
            top = answer.citations[0].clause_id if answer.citations else None
            question_log.record(school, question, answer.verdict, audience, top, follow_up=bool(history), safeguarding=answer.safeguarding)
        except Exception as exc:  # the log must never cost anyone their answer
            log.error("could not log a question: %s", exc)
    if feedback is None:
        return None
    try:
        return feedback.record_answer(
            school,
            audience,
            question,
            answer.verdict,
            answer.band,
            answer.confidence,
            [c.clause_id for c in answer.citations],
            history,
            chat_key=chat_key,
        )
    except Exception as exc:  # feedback must never cost anyone their answer
        log.error("could not store an answer for feedback: %s", exc)
        return None
