"""The question log: what people ask each school, redacted, in SQLite — and the policy-gap report built from it.

Each answered question is one row: when (UTC), school, audience, the question with personal
data replaced by placeholders (`assistant.redaction.redact`), the verdict, the cited
clause, and whether it was a follow-up. **No client address, history or other request
data is stored.** Rows older than the retention period (default 90 days) are deleted when
the log is opened and then at most once an hour as rows are written.

What of the question is kept (``ASSISTANT_LOG_QUESTIONS``, `STORE_MODES`): names cannot be
found reliably offline, so by default (``checked``) the redacted question is stored only when
`assistant.redaction.might_name_someone` finds nothing in it that may be a name; otherwise
the row keeps the verdict and cited clause with `WITHHELD` as its text. ``clause`` never
stores question text (verdict and clause only); ``redacted`` stores every redacted question.

Size: at most ``max_rows`` rows (``ASSISTANT_LOG_MAX_ROWS``, default 100,000, ~30 MB);
past that the oldest rows are deleted as new ones are written, so a flood cannot fill the disk.

Durability: the database runs in WAL mode with ``synchronous=FULL``, and `QuestionLog.record`
commits before it returns, so a question whose answer was sent survives a ``kill -9`` of
the server (tested with a real server process in ``tests/test_question_log.py``).

`QuestionLog.report` gives a school its most asked questions and the ones its policies
did not cover (verdict ``not_covered``): ``python -m assistant report --school <id>`` and
the admin page ``/admin/report?school=<id>`` show it.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from .config import Settings
from .redaction import might_name_someone, redact

#: Days a logged question is kept (the default of ``ASSISTANT_LOG_RETENTION_DAYS``, 90).
DEFAULT_RETENTION_DAYS: float = Settings.model_fields["log_retention_days"].default
#: Seconds between retention sweeps while writing.
PURGE_EVERY = 3600.0
#: Rows kept at most (the default of ``ASSISTANT_LOG_MAX_ROWS``, 100,000); the oldest go first.
DEFAULT_MAX_ROWS: int = Settings.model_fields["log_max_rows"].default
#: What of a question is stored: ``checked`` (default), ``clause`` or ``redacted`` (see the module docstring).
STORE_MODES = ("checked", "clause", "redacted")
#: The text stored in place of a question that is not kept.
WITHHELD = "{{QUESTION NOT STORED}}"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS questions (
    id INTEGER PRIMARY KEY,
    asked_at REAL NOT NULL,          -- Unix time, UTC
    school TEXT NOT NULL,
    audience TEXT,
    question TEXT NOT NULL,          -- redacted
    normalised TEXT NOT NULL,        -- redacted, lower-case, spaces collapsed: groups repeats
    verdict TEXT NOT NULL,
    clause_id TEXT,                  -- the best citation, if any
    follow_up INTEGER NOT NULL DEFAULT 0,
    safeguarding INTEGER NOT NULL DEFAULT 0  -- a possible child-protection concern: flagged for the DSL (issue 18)
);
CREATE INDEX IF NOT EXISTS questions_school ON questions (school, asked_at);
CREATE INDEX IF NOT EXISTS questions_asked_at ON questions (asked_at);
"""


def resolve_log_path(configured: str | None, index_dir: str | Path) -> Path | None:
    """Where the question log lives.

    Args:
        configured: ``ASSISTANT_QUESTION_LOG``: a file, ``off``, or None/empty for the default.
        index_dir: the index folder.

    Returns:
        The ``configured`` file; None for ``off``; unset: ``<index_dir>/../data/questions.sqlite3``
        (beside the index folder, never inside a generation, which ingest replaces).
    """
    if configured is None or not configured.strip():
        return Path(index_dir).resolve().parent / "data" / "questions.sqlite3"
    if configured.strip().lower() == "off":
        return None
    return Path(configured.strip())


def normalise_question(question: str) -> str:
    """The grouping key of a question: lower-case, single spaces, no trailing punctuation."""
    return re.sub(r"\s+", " ", question).strip().rstrip("?!.… ").lower()


@dataclass(frozen=True, slots=True)
class AskedQuestion:
    """One row of the report: a (redacted) question, how often it was asked, and its latest verdict."""

    question: str
    count: int
    verdict: str
    last_asked: str  # ISO date-time, UTC


@dataclass(slots=True)
class GapReport:
    """A school's question report over the retention window.

    Attributes:
        school: the school id; total: questions logged; not_covered_total: of which not covered.
        most_asked: the most frequent questions, most asked first.
        not_covered: the most frequent questions the policies did not cover (policy gaps).
        since: ISO date-time of the oldest question counted (UTC), or None when empty.
    """

    school: str
    total: int = 0
    not_covered_total: int = 0
    most_asked: list[AskedQuestion] = field(default_factory=list)
    not_covered: list[AskedQuestion] = field(default_factory=list)
    since: str | None = None

    def to_dict(self) -> dict:
        """A JSON-ready dict."""
        return asdict(self)


def _iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


class QuestionLog:
    """An SQLite question log (thread-safe; one connection guarded by a lock).

    Args:
        path: the database file (its folder is created); retention_days: rows older than
            this are deleted (on open and hourly on write).
        max_rows: rows kept at most; writing one more deletes the oldest.
        store: what of a question is kept, one of `STORE_MODES` (see the module docstring).

    Raises:
        ValueError: a retention, row cap or store mode that is not allowed, named.
        sqlite3.Error / OSError: the file cannot be created or opened.
    """

    def __init__(
        self,
        path: str | Path,
        retention_days: float = DEFAULT_RETENTION_DAYS,
        max_rows: int = DEFAULT_MAX_ROWS,
        store: str = "checked",
    ) -> None:
        """Open (or create) the log at ``path`` and purge rows past retention (see the class docstring)."""
        if retention_days <= 0:
            raise ValueError("retention_days must be positive")
        if max_rows < 1:
            raise ValueError(f"max_rows must be at least 1, not {max_rows}")
        if store not in STORE_MODES:
            raise ValueError(f"store must be one of {', '.join(STORE_MODES)}, not {store!r}")
        self.path = Path(path)
        self.retention_days = retention_days
        self.max_rows = max_rows
        self.store = store
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a commit is on disk before record() returns
        self._db.executescript(_SCHEMA)
        if "safeguarding" not in {row[1] for row in self._db.execute("PRAGMA table_info(questions)")}:  # a log from before issue 18
            self._db.execute("ALTER TABLE questions ADD COLUMN safeguarding INTEGER NOT NULL DEFAULT 0")
        self._next_purge = 0.0
        self.purge()

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    def record(
        self,
        school: str,
        question: str,
        verdict: str,
        audience: str | None = None,
        clause_id: str | None = None,
        follow_up: bool = False,
        asked_at: float | None = None,
        safeguarding: bool = False,
    ) -> None:
        """Redact ``question`` and store it (or only its verdict and clause: see ``store``); committed (durable) when this returns.

        Args:
            school: the school id.
            question: the question as asked (redacted here before it is stored).
            verdict: the answer's verdict (``not_covered`` marks a policy gap).
            audience: who asked (``staff``, ``parent``, …), if known.
            clause_id: the best citation's clause id, if any.
            follow_up: the question followed earlier ones in a conversation.
            asked_at: Unix time (default: now); tests pass old times to check retention.
            safeguarding: flag the row for the Designated Safeguarding Lead (issue 18).
        """
        clean = self.stored_text(question, clause_id)
        now = time.time()
        with self._lock:
            self._db.execute(
                "INSERT INTO questions (asked_at, school, audience, question, normalised, verdict, clause_id, follow_up, safeguarding)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    now if asked_at is None else asked_at,
                    school,
                    audience,
                    clean,
                    normalise_question(clean),
                    verdict,
                    clause_id,
                    int(follow_up),
                    int(safeguarding),
                ),
            )
            # The cap: ids only grow, so keeping ids above (newest - max_rows) keeps at most max_rows rows,
            # whichever process wrote them (an index lookup, not a count).
            self._db.execute("DELETE FROM questions WHERE id <= (SELECT MAX(id) FROM questions) - ?", (self.max_rows,))
        if now >= self._next_purge:
            self.purge()

    def stored_text(self, question: str, clause_id: str | None = None) -> str:
        """The text a row keeps for ``question``: redacted, or `WITHHELD` (with the cited clause) as ``store`` says."""
        clean = redact(question)
        if self.store == "redacted" or (self.store == "checked" and not might_name_someone(clean)):
            return clean
        return f"{WITHHELD} (cited clause {clause_id})" if clause_id else f"{WITHHELD} (no clause cited)"

    def purge(self, now: float | None = None) -> int:
        """Delete rows older than the retention period; returns how many were deleted."""
        now = time.time() if now is None else now
        cutoff = now - self.retention_days * 86400
        with self._lock:
            deleted = self._db.execute("DELETE FROM questions WHERE asked_at < ?", (cutoff,)).rowcount
            self._next_purge = time.time() + PURGE_EVERY
        return deleted

    def count(self, school: str | None = None) -> int:
        """How many questions are logged (for ``school``, or in all)."""
        with self._lock:
            if school is None:
                return self._db.execute("SELECT COUNT(*) FROM questions").fetchone()[0]
            return self._db.execute("SELECT COUNT(*) FROM questions WHERE school = ?", (school,)).fetchone()[0]

    def questions(self, school: str | None = None) -> list[str]:
        """Every stored (redacted) question text, oldest first (for tests and audits)."""
        with self._lock:
            sql = "SELECT question FROM questions" + (" WHERE school = ?" if school else "") + " ORDER BY id"
            return [row[0] for row in self._db.execute(sql, (school,) if school else ())]

    def report(self, school: str, limit: int = 20) -> GapReport:
        """The school's most asked questions and most asked not-covered questions (``limit`` of each).

        Expired rows are deleted first, so the report never shows a question past its retention period.
        """
        self.purge()
        grouped = """
            SELECT normalised, COUNT(*) AS n, MAX(asked_at) AS last,
                   (SELECT q.question FROM questions q WHERE q.school = ? AND q.normalised = g.normalised ORDER BY q.id DESC LIMIT 1),
                   (SELECT q.verdict FROM questions q WHERE q.school = ? AND q.normalised = g.normalised ORDER BY q.id DESC LIMIT 1)
            FROM questions g WHERE g.school = ? {extra}
            GROUP BY normalised ORDER BY n DESC, last DESC LIMIT ?"""
        with self._lock:
            total, oldest = self._db.execute("SELECT COUNT(*), MIN(asked_at) FROM questions WHERE school = ?", (school,)).fetchone()
            gaps = self._db.execute("SELECT COUNT(*) FROM questions WHERE school = ? AND verdict = 'not_covered'", (school,)).fetchone()[0]
            top = self._db.execute(grouped.format(extra=""), (school, school, school, limit)).fetchall()
            uncovered = self._db.execute(grouped.format(extra="AND g.verdict = 'not_covered'"), (school, school, school, limit)).fetchall()

        def rows(found) -> list[AskedQuestion]:
            return [AskedQuestion(question=q, count=n, verdict=v, last_asked=_iso(last) or "") for _, n, last, q, v in found]

        return GapReport(school, total, gaps, rows(top), rows(uncovered), _iso(oldest))
