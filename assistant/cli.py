"""Terminal front end: ``python -m assistant ask|chat|schools``.

python -m assistant ask "Can I post sports day videos?" --school glais --audience parent
python -m assistant chat --school glais --audience parent
python -m assistant schools
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap

from .config import Settings
from .errors import IndexNotFoundError
from .types import AUDIENCES, Answer

_BADGES = {"yes": "YES", "no": "NO", "conditional": "ONLY IF…", "info": "INFO", "not_covered": "NOT COVERED"}


def format_answer(answer: Answer, width: int = 88) -> str:
    """A terminal rendering: verdict badge, the answer, then each citation with provenance."""
    lines = [f"[{_BADGES[answer.verdict]}] " + textwrap.fill(answer.text, width, subsequent_indent="  ")]
    for n, c in enumerate(answer.citations, start=1):
        where = " › ".join(p for p in (c.document_title, c.section) if p)
        page = f", p. {c.page}" if c.page else ""
        lines.append(f"  [{n}] {where}{page} (clause {c.clause_id})")
        lines.append(textwrap.fill(c.text, width, initial_indent="      > ", subsequent_indent="      > "))
    lines.extend(f"  Note: {note}" for note in answer.notes)
    return "\n".join(lines)


def _load(index_dir):
    from .assistant import Assistant

    return Assistant.load(index_dir)


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
    args = parser.parse_args(argv)

    try:
        bot = _load(args.index_dir or Settings().index_dir)
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
