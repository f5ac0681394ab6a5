"""A minimal FastAPI server for the textbook recipe, so HTTP benchmarks compare like for like.

    python bench/textbook_server.py --index-dir bench/.data/textbook-5 [--port 7861] [--workers N]

Serves ``POST /api/ask`` and ``POST /api/search`` with the same request bodies as the
assistant's API (``{question, school, audience?, history?, k?}``) and ``GET /healthz``,
over a store built by ``bench/worker.py ingest --system textbook`` (see `bench/textbook.py`
for what the recipe does and does not do). Endpoints are plain ``def`` functions run in
FastAPI's thread pool, as the assistant's are, under the same uvicorn. No rate limit, no
web pages, no validation beyond pydantic's: it is a benchmark baseline, not a product.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from pydantic import BaseModel, Field

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

INDEX_ENV = "TEXTBOOK_INDEX_DIR"


class Question(BaseModel):
    """The request body of both endpoints (the assistant API's fields)."""

    question: str = Field(min_length=1, max_length=1000)
    school: str
    audience: str | None = None
    history: list[str] = []
    k: int = Field(default=5, ge=1, le=50)


def create_app():
    """The FastAPI app over the store named by ``$TEXTBOOK_INDEX_DIR`` (a factory, so uvicorn workers can build it)."""
    from fastapi import FastAPI, HTTPException
    from textbook import TextbookIndex

    index = TextbookIndex(Path(os.environ[INDEX_ENV]))
    index.search("mobile phones", sorted(index.schools)[0], k=1)  # load the models before serving, as app.py does
    app = FastAPI(title="Textbook LangChain recipe (benchmark baseline)")

    def _chunks(hits) -> list[dict]:
        return [{"school": d.metadata["school"], "document": d.metadata["document"], "text": d.page_content} for d in hits]

    @app.post("/api/ask")
    def ask(body: Question) -> dict:
        try:
            verdict, hits = index.ask(body.question, body.school, body.history)
        except ValueError as exc:
            raise HTTPException(404, str(exc)) from exc
        return {"verdict": verdict, "citations": _chunks(hits[:1])}

    @app.post("/api/search")
    def search(body: Question) -> dict:
        try:
            return {"citations": _chunks(index.search(body.question, body.school, body.history, body.k))}
        except ValueError as exc:
            raise HTTPException(404, str(exc)) from exc

    @app.get("/healthz")
    def healthz() -> dict:
        return {"status": "ok", "schools": len(index.schools)}

    return app


def main(argv: list[str] | None = None) -> int:
    """Parse the flags and serve until interrupted; returns the exit code."""
    parser = argparse.ArgumentParser(prog="textbook_server.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7861)
    parser.add_argument("--index-dir", type=Path, required=True, help="store built by bench/worker.py ingest --system textbook")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (default: %(default)s)")
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    if not (args.index_dir / "chroma.sqlite3").exists():
        parser.error(f"--index-dir {args.index_dir}: no textbook index there")
    os.environ[INDEX_ENV] = str(args.index_dir.resolve())

    import uvicorn

    if args.workers > 1:
        os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT / "bench"), str(ROOT), os.environ.get("PYTHONPATH", "")])
        uvicorn.run(
            "textbook_server:create_app", factory=True, host=args.host, port=args.port, workers=args.workers, log_level=args.log_level
        )
    else:
        uvicorn.run(create_app(), host=args.host, port=args.port, log_level=args.log_level)
    return 0


if __name__ == "__main__":
    sys.exit(main())
