"""Terminal front end: ``python -m assistant ask|chat|schools|report``.

python -m assistant ask "Can I post sports day videos?" --school glais --audience parent
python -m assistant chat --school glais --audience parent
python -m assistant schools
python -m assistant report --school glais [--limit 20] [--json]   # most asked and not-covered questions (question log)
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

from .config import get_settings
from .errors import IndexNotFoundError
from .types import AUDIENCES, VERDICT_LABELS, Answer

if TYPE_CHECKING:
    from .question_log import GapReport


def format_answer(answer: Answer, width: int = 88) -> str:
    """A terminal rendering: verdict badge, the answer, then each citation with provenance."""
    badge = VERDICT_LABELS.get(answer.verdict, answer.verdict).upper()
    lines = [f"[{badge}] " + textwrap.fill(answer.text, width, subsequent_indent="  ")]
    for n, c in enumerate(answer.citations, start=1):
        where = " › ".join(p for p in (c.document_title, c.section) if p)
        page = f", p. {c.page}" if c.page else ""
        lines.append(f"  [{n}] {where}{page} (clause {c.clause_id})")
        lines.append(textwrap.fill(c.text, width, initial_indent="      > ", subsequent_indent="      > "))
    lines.extend(f"  Note: {note}" for note in answer.notes)
    if answer.handover is not None and answer.handover.reason != "safeguarding":  # a safeguarding text already starts with it
        lines.append(textwrap.fill(answer.handover.message, width, initial_indent="  ", subsequent_indent="  "))
    return "\n".join(lines)


def _load(index_dir):
    from .assistant import Assistant

    return Assistant.load(index_dir)


def format_report(report: GapReport) -> str:
    """A terminal rendering of a school's question report."""
    since = f" since {report.since}" if report.since else ""
    lines = [f"{report.school}: {report.total} questions logged{since}; {report.not_covered_total} not covered by the policies."]
    for title, rows in (("Not covered (policy gaps)", report.not_covered), ("Most asked", report.most_asked)):
        lines.append(f"\n{title}:")
        lines.extend(f"  {r.count:>5} × {r.question}  [{r.verdict}]" for r in rows)
        if not rows:
            lines.append("  (none)")
    return "\n".join(lines)


def _report(args) -> int:
    from .question_log import QuestionLog, resolve_log_path

    settings = get_settings()
    path = Path(args.log) if args.log else resolve_log_path(settings.question_log, args.index_dir or settings.index_dir)
    if path is None:
        print("error: the question log is off (ASSISTANT_QUESTION_LOG=off)", file=sys.stderr)
        return 1
    if not path.exists():
        print(f"error: no question log at {path} (questions are logged once the web server has answered some)", file=sys.stderr)
        return 1
    log = QuestionLog(path, retention_days=settings.log_retention_days)
    try:
        result = log.report(args.school, limit=max(1, args.limit))
    finally:
        log.close()
    print(json.dumps(result.to_dict(), indent=2, ensure_ascii=False) if args.json else format_report(result))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 ok, 1 no index, 2 bad input)."""
    parser = argparse.ArgumentParser(prog="python -m assistant", description="Ask a school's policies.")
    parser.add_argument("--index-dir", default=None, help="index folder (default: ASSISTANT_INDEX_DIR or ./index)")
    sub = parser.add_subparsers(dest="command", required=True)
    ask = sub.add_parser("ask", help="answer one question")
    ask.add_argument("question")
    chat = sub.add_parser("chat", help="interactive chat; earlier questions give follow-ups their context")
    for p in (ask, chat):
        p.add_argument("--school", required=True, help="school id (see `python -m assistant schools`)")
        p.add_argument("--audience", choices=AUDIENCES, default=None, help="who is asking")
    ask.add_argument("--json", action="store_true", help="print the answer as JSON")
    sub.add_parser("schools", help="list the schools and documents served")
    report = sub.add_parser("report", help="a school's most asked and not-covered questions, from the question log")
    report.add_argument("--school", required=True, help="school id")
    report.add_argument("--limit", type=int, default=20, help="questions in each list (default: %(default)s)")
    report.add_argument(
        "--log", default=None, help="question log file (default: ASSISTANT_QUESTION_LOG or <index dir>/../data/questions.sqlite3)"
    )
    report.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    if args.command == "report":
        return _report(args)

    try:
        bot = _load(args.index_dir or get_settings().index_dir)
    except IndexNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1

    if args.command == "schools":
        for school in bot.schools():
            print(f"{school.school}: {school.name}")
            for doc in school.documents:
                print(f"  - {doc.document}: {doc.title} ({doc.clauses} clauses)")
        return 0
    try:
        bot.school_name(args.school)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.command == "ask":
        try:
            answer = bot.ask(args.question, school=args.school, audience=args.audience)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(json.dumps(answer.to_dict(), indent=2, ensure_ascii=False) if args.json else format_answer(answer))
        return 0

    print(f"Ask about {bot.school_name(args.school)}'s policies. An empty line or Ctrl-D ends the chat.")
    history: list[str] = []
    while True:
        try:
            question = input("\nyou> ").strip()
        except (EOFError, KeyboardInterrupt):
            print()
            return 0
        if not question:
            return 0
        try:
            answer = bot.ask(question, school=args.school, audience=args.audience, history=history)
        except ValueError as exc:
            print(f"  {exc}")
            continue
        print(format_answer(answer))
        history.append(question)
