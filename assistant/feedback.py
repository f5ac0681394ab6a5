"""Answers and the feedback people give on them (issue 18), in SQLite beside the question log.

Every answer served by ``/api/ask`` or the staff chat is stored as one row of ``answers``
under a random id (``answer_id``, sent with the answer): when (UTC), school, audience, the
question **as the question log stores it** (redacted, or withheld: `QuestionLog.stored_text`,
``ASSISTANT_LOG_QUESTIONS``), verdict, band, confidence and the cited clause ids. A 👍/👎
(``POST /api/feedback``) is one row of ``feedback``: the answer id, the rating, the optional
note (redacted the same way) and the clause the person says is the right one. **No client
address or other request data is stored.** Rows older than the question log's retention
period are deleted on open and at most hourly on write, and at most the question log's
``max_rows`` answers are kept (the oldest go first).

`FeedbackStore.report` is the admin page's per-school report: most asked, not covered, low
confidence (band ``unsure``) and 👎 answers, each with its cited clause, verdict and confidence.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .question_log import DEFAULT_RETENTION_DAYS, PURGE_EVERY, QuestionLog, normalise_question

#: Ratings a person can give an answer.
RATINGS = ("up", "down")
#: Longest feedback note kept (characters).
MAX_NOTE_CHARS = 1000
#: The database file's name, beside the question log's.
FILE_NAME = "feedback.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    answer_id TEXT PRIMARY KEY,
    asked_at REAL NOT NULL,
    school TEXT NOT NULL,
    audience TEXT,
    question TEXT NOT NULL,       -- as the question log stores it (redacted or withheld)
    normalised TEXT NOT NULL,
    verdict TEXT NOT NULL,
    band TEXT NOT NULL,
    confidence REAL,
    citations TEXT NOT NULL,      -- JSON list of clause ids, best first
    history TEXT NOT NULL DEFAULT '[]',  -- JSON list of earlier questions, stored like the question
    chat_key TEXT                     -- staff chat: a hash of the chat session and the message's index
);
CREATE INDEX IF NOT EXISTS answers_chat_key ON answers (chat_key);
CREATE INDEX IF NOT EXISTS answers_school ON answers (school, asked_at);
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY,
    answer_id TEXT NOT NULL,
    given_at REAL NOT NULL,
    rating TEXT NOT NULL,
    note TEXT,
    clause_id TEXT
);
CREATE INDEX IF NOT EXISTS feedback_answer ON feedback (answer_id);
"""


@dataclass(slots=True)
class AnswerRow:
    """One stored answer, with its latest feedback (if any). Dates are Unix times (UTC)."""

    answer_id: str
    asked_at: float
    school: str
    audience: str | None
    question: str
    verdict: str
    band: str
    confidence: float | None
    citations: list[str]
    history: list[str] = field(default_factory=list)
    count: int = 1
    rating: str | None = None
    note: str | None = None
    chosen_clause: str | None = None
    rated_at: float | None = None


@dataclass(slots=True)
class SchoolReport:
    """The admin page's report for one school (lists of `AnswerRow`, newest or most asked first)."""

    school: str
    total: int = 0
    most_asked: list[AnswerRow] = field(default_factory=list)
    not_covered: list[AnswerRow] = field(default_factory=list)
    unsure: list[AnswerRow] = field(default_factory=list)
    thumbs_down: list[AnswerRow] = field(default_factory=list)
    thumbs_up: int = 0

    def to_dict(self) -> dict:
        """A JSON-ready dict."""
        return asdict(self)


class FeedbackStore:
    """Answers served and the feedback on them (thread-safe; one SQLite connection guarded by a lock).

    Args:
        path: the database file (its folder is created).
        question_log: decides how question and note text is stored (`QuestionLog.stored_text`).
        retention_days: rows older than this are deleted.
    """

    def __init__(self, path: str | Path, question_log: QuestionLog, retention_days: float = DEFAULT_RETENTION_DAYS) -> None:
        """Open (or create) the database at ``path`` (WAL mode) and purge rows past ``retention_days``; args as on the class."""
        self.path = Path(path)
        self.question_log = question_log
        self.retention_days = retention_days
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # no fsync per answer: a power cut may lose the last few, never corrupt
        self._db.executescript(_SCHEMA)
        self._next_purge = 0.0
        self.purge()

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    def purge(self, now: float | None = None) -> None:
        """Delete answers (and their feedback) older than the retention period."""
        now = time.time() if now is None else now
        cutoff = now - self.retention_days * 86400
        with self._lock:
            self._db.execute("DELETE FROM feedback WHERE answer_id IN (SELECT answer_id FROM answers WHERE asked_at < ?)", (cutoff,))
            self._db.execute("DELETE FROM answers WHERE asked_at < ?", (cutoff,))
            self._db.execute("DELETE FROM feedback WHERE answer_id NOT IN (SELECT answer_id FROM answers)")
            self._next_purge = time.time() + PURGE_EVERY

    def record_answer(
        self,
        school: str,
        audience: str | None,
        question: str,
        verdict: str,
        band: str,
        confidence: float | None,
        citations: list[str],
        history: list[str] | None = None,
        asked_at: float | None = None,
        chat_key: str | None = None,
    ) -> str:
        """Store one answer (its question stored as the question log would) and return its new random id."""
        answer_id = secrets.token_urlsafe(12)
        top = citations[0] if citations else None
        text = self.question_log.stored_text(question, top)
        earlier = [self.question_log.stored_text(h) for h in (history or [])]
        with self._lock:
            self._db.execute(
                "INSERT INTO answers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    answer_id,
                    time.time() if asked_at is None else asked_at,
                    school,
                    audience,
                    text,
                    normalise_question(text),
                    verdict,
                    band,
                    confidence,
                    json.dumps(list(citations)),
                    json.dumps(earlier),
                    chat_key,
                ),
            )
            # The question log's row cap (ASSISTANT_LOG_MAX_ROWS) holds here too: the oldest answers go first.
            self._db.execute("DELETE FROM answers WHERE rowid <= (SELECT MAX(rowid) FROM answers) - ?", (self.question_log.max_rows,))
        if time.time() >= self._next_purge:
            self.purge()
        return answer_id

    def add_feedback(self, answer_id: str, rating: str, note: str | None = None, clause_id: str | None = None) -> AnswerRow:
        """Record a 👍/👎 on a stored answer; returns the answer.

        Raises:
            KeyError: no stored answer has that id (unknown or expired).
            ValueError: a rating not in `RATINGS`.
        """
        if rating not in RATINGS:
            raise ValueError(f"rating must be one of {', '.join(RATINGS)}")
        row = self.answer(answer_id)
        if row is None:
            raise KeyError(answer_id)
        stored_note = self.question_log.stored_text(note[:MAX_NOTE_CHARS]) if note and note.strip() else None
        with self._lock:
            self._db.execute(
                "INSERT INTO feedback (answer_id, given_at, rating, note, clause_id) VALUES (?, ?, ?, ?, ?)",
                (answer_id, time.time(), rating, stored_note, clause_id or None),
            )
        return row

    _SELECT = """SELECT a.answer_id, a.asked_at, a.school, a.audience, a.question, a.verdict, a.band, a.confidence,
                        a.citations, a.history, f.rating, f.note, f.clause_id, f.given_at
                 FROM answers a LEFT JOIN feedback f ON f.id = (SELECT MAX(id) FROM feedback WHERE answer_id = a.answer_id)"""

    @staticmethod
    def _row(r) -> AnswerRow:
        return AnswerRow(
            answer_id=r[0],
            asked_at=r[1],
            school=r[2],
            audience=r[3],
            question=r[4],
            verdict=r[5],
            band=r[6],
            confidence=r[7],
            citations=json.loads(r[8]),
            history=json.loads(r[9]),
            rating=r[10],
            note=r[11],
            chosen_clause=r[12],
            rated_at=r[13],
        )

    def answer(self, answer_id: str) -> AnswerRow | None:
        """The stored answer with this id and its latest feedback, or None."""
        with self._lock:
            found = self._db.execute(self._SELECT + " WHERE a.answer_id = ?", (answer_id,)).fetchone()
        return None if found is None else self._row(found)

    def answer_id_for_chat(self, chat_key: str) -> str | None:
        """The id of the newest answer stored under ``chat_key`` (a staff chat message), or None."""
        with self._lock:
            found = self._db.execute(
                "SELECT answer_id FROM answers WHERE chat_key = ? ORDER BY asked_at DESC, rowid DESC LIMIT 1", (chat_key,)
            ).fetchone()
        return None if found is None else found[0]

    def report(self, school: str, limit: int = 20) -> SchoolReport:
        """``school``'s most asked, not-covered, unsure (low confidence) and 👎 answers, ``limit`` of each."""
        self.purge()
        with self._lock:
            total = self._db.execute("SELECT COUNT(*) FROM answers WHERE school = ?", (school,)).fetchone()[0]
            ups = self._db.execute(
                "SELECT COUNT(*) FROM answers a JOIN feedback f ON f.answer_id = a.answer_id WHERE a.school = ? AND f.rating = 'up'",
                (school,),
            ).fetchone()[0]
            grouped = {}
            for extra in ("", "AND band = 'not_covered'"):
                grouped[extra] = self._db.execute(
                    f"""SELECT normalised, COUNT(*) AS n, MAX(asked_at) AS last,
                               (SELECT answer_id FROM answers b WHERE b.school = a.school AND b.normalised = a.normalised
                                ORDER BY asked_at DESC LIMIT 1)
                        FROM answers a WHERE school = ? {extra} GROUP BY normalised ORDER BY n DESC, last DESC LIMIT ?""",
                    (school, limit),
                ).fetchall()
            unsure = self._db.execute(
                self._SELECT + " WHERE a.school = ? AND a.band = 'unsure' ORDER BY a.asked_at DESC LIMIT ?", (school, limit)
            ).fetchall()
            down = self._db.execute(
                self._SELECT + " WHERE a.school = ? AND f.rating = 'down' ORDER BY f.given_at DESC LIMIT ?", (school, limit)
            ).fetchall()

        def latest(found) -> list[AnswerRow]:
            out = []
            for _, n, _, answer_id in found:
                row = self.answer(answer_id)
                if row is not None:
                    row.count = n
                    out.append(row)
            return out

        return SchoolReport(
            school,
            total,
            latest(grouped[""]),
            latest(grouped["AND band = 'not_covered'"]),
            [self._row(r) for r in unsure],
            [self._row(r) for r in down],
            ups,
        )


def feedback_path(question_log: QuestionLog) -> Path:
    """Where the feedback database lives: beside the question log."""
    return question_log.path.parent / FILE_NAME
