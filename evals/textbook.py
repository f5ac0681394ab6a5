"""The textbook LangChain recipe the assistant is compared against, in one place.

The evaluation (`TextbookBaseline`, used by ``python -m evals.run``) scores its accuracy and
the benchmarks (``bench/textbook.py``, a persistent store served by ``bench/textbook_server.py``)
time it; both use the recipe below, so they measure the same system.

The recipe: ``RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)`` over each
document's text, the school and document as chunk metadata, the assistant's own embeddings
(so both sides pay the same model cost per text) in a ``langchain-chroma`` ``Chroma`` store,
and the top ``K`` chunks of ``similarity_search`` filtered by school, the query being the
chat's previous question followed by this one. It has no clause structure, no sentence
vectors, no BM25, no query rewriting, no audience boost and no abstention; its verdict is
the assistant's verdict rule (`assistant.answering.decide_verdict`) applied to its top
chunk, so a comparison isolates retrieval and chunking.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from .metrics import BankItem, Outcome

#: ``RecursiveCharacterTextSplitter`` settings of the recipe (characters).
CHUNK_SIZE = 1000
CHUNK_OVERLAP = 200
#: Chunks returned by a search.
K = 5


@dataclass
class SplitCorpus:
    """A corpus split by the recipe.

    Attributes:
        chunks: LangChain ``Document``s (``page_content`` ≤ `CHUNK_SIZE` characters, metadata
            ``{"school", "document"}``) in corpus order: school, document, position.
        ids: a stable id per chunk, ``<school>/<document>/<n>`` (n counts from 0 in each document).
        documents: documents read.
        schools: schools read.
        chars: characters of document text read.
    """

    chunks: list
    ids: list[str]
    documents: int
    schools: int
    chars: int


def split_corpus(corpus_dir: Path) -> SplitCorpus:
    """Read ``corpus_dir`` (`assistant.loading.load_corpus`) and split every document by the recipe.

    Args:
        corpus_dir: the corpus, one folder per school.

    Returns:
        The chunks with their ids and counts (see `SplitCorpus`).

    Raises:
        assistant.errors.CorpusError: a corpus file cannot be read.
    """
    from langchain_core.documents import Document
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    from assistant.loading import load_corpus

    splitter = RecursiveCharacterTextSplitter(chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP)
    chunks, ids, chars, documents = [], [], 0, 0
    schools = load_corpus(corpus_dir)
    for school in schools:
        for doc in school.documents:
            documents += 1
            chars += len(doc.text)
            for n, text in enumerate(splitter.split_text(doc.text)):
                chunks.append(Document(page_content=text, metadata={"school": school.school, "document": doc.document}))
                ids.append(f"{school.school}/{doc.document}/{n}")
    return SplitCorpus(chunks, ids, documents, len(schools), chars)


def query_text(question: str, history: list[str] | tuple[str, ...] | None) -> str:
    """The text the recipe embeds: the chat's previous question, if any, then ``question``."""
    return f"{history[-1]} {question}" if history else question


def search(store, question: str, school: str, history: list[str] | tuple[str, ...] | None = None, k: int = K) -> list:
    """The top ``k`` chunks of ``school`` for ``question`` in a recipe ``store``.

    Args:
        store: a ``langchain_chroma.Chroma`` holding `split_corpus` chunks.
        question: the question as asked.
        school: the school id the search is filtered to.
        history: earlier questions of the chat, oldest first.
        k: how many chunks.

    Returns:
        LangChain ``Document``s, best first (fewer than ``k`` when the school has fewer chunks).
    """
    return store.similarity_search(query_text(question, history), k=k, filter={"school": school})


def verdict(question: str, top_chunk: str | None, history: list[str] | tuple[str, ...] | None = None) -> str:
    """The recipe's verdict: the assistant's verdict rule on the key sentence of its top chunk.

    Args:
        question: the question as asked.
        top_chunk: text of the first search result; None when the search found nothing.
        history: earlier questions of the chat, oldest first.

    Returns:
        A verdict key of `assistant.types.VERDICTS`; ``"not_covered"`` when there is no chunk.
    """
    from assistant.answering import decide_verdict, key_sentence

    if top_chunk is None:
        return "not_covered"
    return decide_verdict(question, key_sentence(top_chunk, query_text(question, history)), list(history or []))[0]


class TextbookBaseline:
    """The recipe over a corpus in an in-memory Chroma collection, scored on banks by ``python -m evals.run``."""

    def __init__(self, corpus_dir: Path, embeddings) -> None:
        """Split, embed and store ``corpus_dir``.

        Args:
            corpus_dir: the corpus, one folder per school.
            embeddings: the assistant's embeddings (a LangChain ``Embeddings``), e.g. ``Assistant.embeddings``.

        Raises:
            assistant.errors.CorpusError: a corpus file cannot be read.
        """
        import chromadb
        from chromadb.config import Settings as ChromaSettings
        from langchain_chroma import Chroma

        docs = split_corpus(corpus_dir).chunks
        client = chromadb.EphemeralClient(settings=ChromaSettings(anonymized_telemetry=False))
        self.store = Chroma(client=client, collection_name=f"baseline-{time.time_ns()}", embedding_function=embeddings)
        self.store.add_documents(docs)
        self.chunks = len(docs)

    def run(self, bank: list[BankItem]) -> list[Outcome]:
        """Search every bank item and take the recipe's verdict on the top chunk.

        Args:
            bank: the bank's questions.

        Returns:
            One `Outcome` per item, in bank order; its citation is the top chunk and its
            ``ask_ms`` the search time in milliseconds (the verdict rule is not timed).
        """
        outcomes = []
        for item in bank:
            started = time.perf_counter()
            hits = search(self.store, item.question, item.school, item.history)
            ms = (time.perf_counter() - started) * 1000
            texts = [d.page_content for d in hits]
            answer = verdict(item.question, texts[0] if texts else None, item.history)
            schools = [d.metadata["school"] for d in hits]
            outcomes.append(Outcome(item, texts, schools, answer, texts[:1], schools[:1], ms))
        return outcomes
