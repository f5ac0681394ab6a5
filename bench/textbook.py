"""The textbook LangChain recipe the benchmarks compare against, as a persistent index.

The recipe itself (splitting, search, verdict) is `evals.textbook`, the one the evaluation
scores with `evals.textbook.TextbookBaseline`: ``RecursiveCharacterTextSplitter(chunk_size=1000,
chunk_overlap=200)`` over each document's text, the assistant's own embeddings
(`assistant.embedding.shared_embeddings`, so both sides pay the same model cost per text), a
``langchain-chroma`` ``Chroma`` store with the school as metadata, and top-5
``similarity_search`` filtered by school. Unlike the evaluation's in-memory store, this one
persists in a folder (a server can then start from it, as ``app.py`` starts from the
assistant's index) and is written in batches (Chroma caps one write), resumably.

What it does not do, compared with the assistant: no clause structure (chunks are ~1,000
characters cut at paragraph/line/word boundaries), no sentence vectors, no BM25, no query
rewriting, no audience boost, no abstention; its "answer" is our verdict rule applied to
its top chunk, as in the evaluation.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from evals import textbook as recipe

COLLECTION = "textbook"
K = recipe.K
#: Chunks per Chroma write and per checkpoint of a resumable build (~1 minute of embedding
#: here; Chroma refuses batches over its max_batch_size, ~5,000).
BATCH = 128
#: File in the index folder recording a build's progress (see `build`).
PROGRESS_FILE = "build-progress.json"


def _store(index_dir: Path, embeddings):
    import chromadb
    from chromadb.config import Settings as ChromaSettings
    from langchain_chroma import Chroma

    client = chromadb.PersistentClient(path=str(index_dir), settings=ChromaSettings(anonymized_telemetry=False))
    return Chroma(client=client, collection_name=COLLECTION, embedding_function=embeddings)


def build(
    corpus_dir: Path,
    index_dir: Path,
    embeddings=None,
    progress: Callable[[int, int], None] | None = None,
    resume: bool = False,
) -> dict:
    """Split, embed and store every document of ``corpus_dir`` in a store at ``index_dir``.

    Chunks get stable ids (``<school>/<document>/<n>``) and are written in batches of
    `BATCH`; after each batch ``index_dir/build-progress.json`` records the build seconds
    spent so far. With ``resume`` an interrupted build continues: chunks already in the store
    are skipped and the seconds of earlier runs are added to this one's, so a build too long
    for one sitting (1,000 schools: ~26,700 chunks at ~2 chunks/s) is still timed as a whole.
    At most one batch's work is lost with a killed run, uncounted.

    Returns:
        ``{"chunks", "documents", "schools", "chars", "seconds", "cpu_seconds", "runs",
        "stored_before"}`` (seconds: wall time of loading, splitting, embedding and writing,
        models already loaded, summed over every run of this build; cpu_seconds: this
        process's CPU time over the same spans, all threads, to judge a build that shared the
        machine; runs: how many runs that took;
        stored_before: chunks an earlier run had already stored).

    Raises:
        FileExistsError: ``index_dir`` exists and ``resume`` is False.
        assistant.errors.CorpusError: a corpus file cannot be read.
    """
    import json

    from assistant.embedding import shared_embeddings

    index_dir = Path(index_dir)
    progress_file = index_dir / PROGRESS_FILE
    earlier = {"seconds": 0.0, "cpu_seconds": 0.0, "runs": 0}
    if index_dir.exists():
        if not resume:
            raise FileExistsError(f"{index_dir} exists; the textbook index is built into a fresh folder")
        if progress_file.exists():
            earlier = json.loads(progress_file.read_text(encoding="utf-8"))
    embeddings = embeddings or shared_embeddings()
    started, cpu_started = time.perf_counter(), time.process_time()
    split = recipe.split_corpus(corpus_dir)
    docs, ids = split.chunks, split.ids
    store = _store(index_dir, embeddings)
    stored = set(store.get(include=[])["ids"]) if resume else set()
    todo = [i for i, chunk_id in enumerate(ids) if chunk_id not in stored]

    def checkpoint(done: int) -> dict:
        state = {
            "seconds": earlier["seconds"] + time.perf_counter() - started,
            "cpu_seconds": earlier["cpu_seconds"] + time.process_time() - cpu_started,
            "runs": earlier["runs"] + 1,
            "stored": done,
        }
        progress_file.write_text(json.dumps(state), encoding="utf-8")
        if progress:
            progress(done, len(docs))
        return state

    state = checkpoint(len(docs) - len(todo))
    for start in range(0, len(todo), BATCH):
        batch = todo[start : start + BATCH]
        store.add_documents([docs[i] for i in batch], ids=[ids[i] for i in batch])
        state = checkpoint(len(docs) - len(todo) + start + len(batch))
    return {
        "chunks": len(docs),
        "documents": split.documents,
        "schools": split.schools,
        "chars": split.chars,
        "seconds": state["seconds"],
        "cpu_seconds": state["cpu_seconds"],
        "runs": state["runs"],
        "stored_before": len(docs) - len(todo),
    }


class TextbookIndex:
    """A built textbook store, answering like `evals.textbook.TextbookBaseline`.

    Thread-safe as far as Chroma and the embeddings are (the server calls it from FastAPI's thread pool).
    """

    def __init__(self, index_dir: Path, embeddings=None) -> None:
        """Open the store in ``index_dir`` (built by `build`).

        Args:
            index_dir: the store's folder.
            embeddings: a LangChain ``Embeddings`` (default: `assistant.embedding.shared_embeddings`).

        Raises:
            FileNotFoundError: ``index_dir`` holds no store.
        """
        from assistant.embedding import shared_embeddings

        if not (Path(index_dir) / "chroma.sqlite3").exists():
            raise FileNotFoundError(f"no textbook index at {index_dir}: build it with `python bench/worker.py ingest --system textbook`")
        self.store = _store(Path(index_dir), embeddings or shared_embeddings())
        metadatas = self.store.get(include=["metadatas"])["metadatas"]
        self.schools = {m["school"] for m in metadatas}

    def search(self, question: str, school: str, history: list[str] | None = None, k: int = K) -> list:
        """Top-``k`` chunks of ``school`` (LangChain `Document`s), best first. Raises ValueError for an unknown school."""
        if school not in self.schools:
            raise ValueError(f"unknown school {school!r}")
        return recipe.search(self.store, question, school, history, k)

    def ask(self, question: str, school: str, history: list[str] | None = None) -> tuple[str, list]:
        """(verdict, top chunks): our verdict rule on the top chunk, as the evaluation scores the recipe."""
        hits = self.search(question, school, history)
        return recipe.verdict(question, hits[0].page_content if hits else None, history), hits
