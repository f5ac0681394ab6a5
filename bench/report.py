"""Markdown tables of benchmark results (the dicts `bench/run.py` writes to ``bench/results/``).

Ratios are ours ÷ textbook: for latencies, seconds and memory below 1 means ours is
smaller/faster; for throughputs above 1 means ours does more per second.
"""

from __future__ import annotations

import math
from pathlib import Path

MB = 2**20


def _num(value, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:,.{digits}f}"


def _ratio(ours, textbook) -> str:
    if not ours or not textbook or any(isinstance(v, float) and math.isnan(v) for v in (ours, textbook)):
        return "–"
    return f"{ours / textbook:.2f}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    align = ["---"] + ["---:"] * (len(header) - 1)
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _errors(errors: dict) -> str:
    return str(sum(errors.values())) if errors else "0"


def latency_table(r: dict) -> str:
    """Single-client ask/search p50/p95/p99 (ms), in-process and over HTTP, ours vs textbook."""
    rows = []
    for where, source in (("in-process", r["inprocess"]), ("HTTP", r["http"])):
        for call in ("ask", "search"):
            o, t = source["ours"][call], source["textbook"][call]
            rows.append(
                [f"`{call}` {where}", str(o["n"])]
                + [_num(o[p]) for p in ("p50", "p95", "p99")]
                + [_num(t[p]) for p in ("p50", "p95", "p99")]
                + [_ratio(o["p50"], t["p50"]), _ratio(o["p95"], t["p95"])]
            )
    header = ["single client", "requests", "ours p50", "ours p95", "ours p99", "textbook p50", "textbook p95", "textbook p99"]
    return _table([*header, "ratio p50", "ratio p95"], rows)


def load_table(r: dict) -> str:
    """Throughput and latency of ``/api/ask`` under concurrent clients, ours vs textbook."""
    rows = []
    for o, t in zip(r["http"]["ours"]["load"], r["http"]["textbook"]["load"], strict=True):
        rows.append(
            [
                str(o["clients"]),
                str(o["n"] + sum(o["errors"].values())),
                _num(o["throughput"]),
                _num(o["p50"], 0),
                _num(o["p95"], 0),
                _errors(o["errors"]),
                _num(t["throughput"]),
                _num(t["p50"], 0),
                _num(t["p95"], 0),
                _errors(t["errors"]),
                _ratio(o["throughput"], t["throughput"]),
                _ratio(o["p95"], t["p95"]),
            ]
        )
    header = ["clients", "requests", "ours q/s", "ours p50 ms", "ours p95 ms", "ours errors"]
    header += ["textbook q/s", "textbook p50 ms", "textbook p95 ms", "textbook errors", "ratio q/s", "ratio p95"]
    return _table(header, rows)


def ingest_table(r: dict) -> str:
    """Ingest throughput, cold and warm embedding cache, ours (clauses) vs textbook (chunks)."""
    kb = r["corpus_bytes"] / 1024
    o, t = r["ingest"]["ours"], r["ingest"]["textbook"]
    rows = [["units indexed (ours: clauses; textbook: 1,000-character chunks)", f"{o['cold']['items']:,}", f"{t['cold']['items']:,}", "–"]]
    for phase in ("cold", "warm"):
        oc, tc = o[phase], t[phase]
        label = "cold embedding cache" if phase == "cold" else "warm embedding cache"
        rows.append([f"{label}: build seconds", _num(oc["seconds"]), _num(tc["seconds"]), _ratio(oc["seconds"], tc["seconds"])])
        rows.append([f"{label}: units/s", _num(oc["items"] / oc["seconds"]), _num(tc["items"] / tc["seconds"]), "–"])
        rows.append(
            [f"{label}: corpus KB/s", _num(kb / oc["seconds"]), _num(kb / tc["seconds"]), _ratio(kb / oc["seconds"], kb / tc["seconds"])]
        )
    if "texts_embedded" in o["cold"] and "texts_embedded" in t["cold"]:
        te_o, te_t = o["cold"]["texts_embedded"], t["cold"]["texts_embedded"]
        rows.append(["cold: distinct texts run through the models", f"{te_o:,}", f"{te_t:,}", _ratio(te_o, te_t)])
        rows.append(["cold: model texts/s", _num(te_o / o["cold"]["seconds"]), _num(te_t / t["cold"]["seconds"]), "–"])
    rows.append(["process start to models loaded, s", _num(o["cold"]["model_load_s"]), _num(t["cold"]["model_load_s"]), "–"])
    table = _table(["ingest", "ours", "textbook", "ratio"], rows)
    reused = [f"{s}: measured {v['reused_from']}" for s, v in (("ours", o), ("textbook", t)) if v.get("reused_from")]
    if reused:
        table += "\n\nIngest figures reused from the run that built the kept index (" + "; ".join(reused) + ")."
    return table


def start_memory_table(r: dict) -> str:
    """Cold start to first answer and resident memory, ours vs textbook."""
    o, t = r["http"]["ours"], r["http"]["textbook"]
    io, it = r["inprocess"]["ours"], r["inprocess"]["textbook"]
    rows = [
        ["server: process start to first answer, s", _num(o["cold_start_s"]), _num(t["cold_start_s"]), _ratio(o["cold_start_s"], t["cold_start_s"])],
        ["server RSS after loading, MB", _num(o["rss_loaded"] / MB, 0), _num(t["rss_loaded"] / MB, 0), _ratio(o["rss_loaded"], t["rss_loaded"])],
        ["server RSS after the load tests, MB", _num(o["rss_after"] / MB, 0), _num(t["rss_after"] / MB, 0), _ratio(o["rss_after"], t["rss_after"])],
        ["in-process: start to index loaded, s", _num(io["load_s"]), _num(it["load_s"]), _ratio(io["load_s"], it["load_s"])],
        ["in-process RSS after the latency runs, MB", _num(io["rss_after"] / MB, 0), _num(it["rss_after"] / MB, 0), _ratio(io["rss_after"], it["rss_after"])],
    ]  # fmt: skip
    return _table(["start and memory", "ours", "textbook", "ratio"], rows)


def workers_table(r: dict) -> str:
    """Throughput at 32 clients with 1 and 2 server workers (or why it was skipped)."""
    w = r.get("workers", {})
    if "skipped" in w:
        return f"Skipped: {w['skipped']}."
    one = {s: next(x for x in r["http"][s]["load"] if x["clients"] == w[s]["clients"]) for s in ("ours", "textbook")}
    rows = []
    for label, src in (("1 worker", one), ("2 workers", w)):
        rows.append(
            [
                label,
                _num(src["ours"]["throughput"]),
                _num(src["ours"]["p95"], 0),
                _num(src["textbook"]["throughput"]),
                _num(src["textbook"]["p95"], 0),
                _ratio(src["ours"]["throughput"], src["textbook"]["throughput"]),
            ]
        )
    rows.append(
        ["scaling 1 → 2", _ratio(w["ours"]["throughput"], one["ours"]["throughput"]) + "×", "", _ratio(w["textbook"]["throughput"], one["textbook"]["throughput"]) + "×", "", ""]
    )  # fmt: skip
    clients = w["ours"]["clients"]
    return _table([f"{clients} clients", "ours q/s", "ours p95 ms", "textbook q/s", "textbook p95 ms", "ratio q/s"], rows)


def targets(r: dict) -> list[tuple[str, str, str, bool]]:
    """Issue 5's targets checked against one size's results: (target, ours measured, textbook measured, met)."""
    n = r["schools"]
    limit = 50 if n <= 5 else 150
    at = "5 schools" if n <= 5 else ("1,000 schools" if n == 1000 else f"1,000 schools (here {n})")
    io, it = r["inprocess"]["ours"]["ask"], r["inprocess"]["textbook"]["ask"]
    load32 = {s: next((x for x in r["http"][s]["load"] if x["clients"] == 32), None) for s in ("ours", "textbook")}
    cold_o, cold_t = r["ingest"]["ours"]["cold"], r["ingest"]["textbook"]["cold"]
    rss_o = max(r["http"]["ours"]["rss_loaded"], r["http"]["ours"]["rss_after"])
    rss_t = max(r["http"]["textbook"]["rss_loaded"], r["http"]["textbook"]["rss_after"])
    out = [(f"`ask` p95 in-process ≤ {limit} ms at {at}", f"{_num(io['p95'])} ms", f"{_num(it['p95'])} ms", io["p95"] <= limit)]
    if load32["ours"]:
        o, t = load32["ours"], load32["textbook"]
        out.append(
            ("≥ 100 answered/s at 32 HTTP clients", f"{_num(o['throughput'])}/s", f"{_num(t['throughput'])}/s", o["throughput"] >= 100)
        )
        out.append(("p95 ≤ 500 ms at 32 HTTP clients", f"{_num(o['p95'], 0)} ms", f"{_num(t['p95'], 0)} ms", o["p95"] <= 500))
    rate_o, rate_t = cold_o["items"] / cold_o["seconds"], cold_t["items"] / cold_t["seconds"]
    out.append(("ingest ≥ 300 clauses/s (cold embedding cache)", f"{_num(rate_o)}/s", f"{_num(rate_t)} chunks/s", rate_o >= 300))
    out.append(
        (
            f"server RSS ≤ 1.5 GB (target for 1,000 schools; here {n})",
            f"{_num(rss_o / MB, 0)} MB",
            f"{_num(rss_t / MB, 0)} MB",
            rss_o <= 1.5 * 2**30,
        )
    )
    cs_o, cs_t = r["http"]["ours"]["cold_start_s"], r["http"]["textbook"]["cold_start_s"]
    out.append(("cold start to first answer ≤ 15 s", f"{_num(cs_o)} s", f"{_num(cs_t)} s", cs_o <= 15))
    return out


def targets_table(r: dict) -> str:
    """The targets with ours, the textbook figure beside it, and met / missed for ours."""
    rows = [[label, ours, textbook, "met" if met else "**missed**"] for label, ours, textbook, met in targets(r)]
    return _table(["target (issue 5, 2 cores)", "ours", "textbook", "ours: met / missed"], rows)


def machine_line(m: dict) -> str:
    """One line describing the machine and when the run was made."""
    load = f"load average {m['loadavg_start'][0]:.2f} at start"
    if m.get("loadavg_end"):
        load += f", {m['loadavg_end'][0]:.2f} at end"
    return (
        f"{m['date']}; {m['cpu']}, {m['cores']} cores, {m['ram_gb']} GB RAM, {m['os']}; Python {m['python']}, torch {m['torch']}, "
        f"chromadb {m['chromadb']}, sentence-transformers {m['sentence_transformers']}, langchain-chroma {m['langchain_chroma']}; {load}"
    )


def render_size(r: dict) -> str:
    """Every table of one corpus size, as markdown."""
    m = r["machine"]
    s = r["settings"]
    parts = [
        f"## {r['schools']:,} schools",
        f"Corpus `{r['corpus']}` ({r['corpus_bytes'] / 2**20:.1f} MB of policy text). Measured {machine_line(m)}. "
        f"{s['single']} requests per single-client pass, {s['requests']} per concurrency level; suite wall time "
        f"{r['bench_seconds'] / 60:.1f} min.",
    ]
    if r.get("note"):
        parts.append(f"**Note:** {r['note']}")
    parts += [
        "### Targets",
        targets_table(r),
        "### Single-client latency (ms)",
        latency_table(r),
        "### Concurrent HTTP clients (`POST /api/ask`)",
        load_table(r),
        "### Ingest",
        ingest_table(r),
        "### Cold start and memory",
        start_memory_table(r),
        "### Workers",
        workers_table(r),
    ]
    return "\n\n".join(parts) + "\n"


PREAMBLE = """# Benchmarks

Written by `make bench` (`bench/run.py`); every figure below comes from the results files in
`bench/results/`, one per corpus size, each with the machine and date it was measured on.
Re-run one size with `.venv/bin/python bench/run.py --schools 50`.

**What is measured.** For each corpus size, the Policy Assistant ("ours") and the textbook
LangChain recipe are measured in the same run with the same requests:

- *Single-client latency*: `ask` and `search` (k=5), one request at a time, in-process
  (`bench/worker.py`, after one untimed warm-up question) and over HTTP against a real server
  on 127.0.0.1 (client-side time, HTTP included).
- *Concurrent clients*: a closed-loop asyncio + httpx generator (`bench/load.py`) with 8, 32
  and 64 clients sends a fixed number of `POST /api/ask` requests and stops. Throughput counts
  200 answers per second of wall time. The load generator runs on the same 2 cores as the server.
- *Ingest*: a fresh index folder, first with an empty embedding cache (`ASSISTANT_MODEL_CACHE`
  pointed at a new folder that links to the already unzipped model files), then again with
  that cache warm. Seconds are the build alone; loading the models is reported separately.
- *Cold start*: from spawning the server process to its first 200 answer (the OS file cache
  is not dropped, so model files may be in memory already).
- *Memory*: resident set size (psutil) of the server process and its children.
- *Questions*: every question of `evals/banks/*.jsonl`, each put to a school generated from the
  question's school and worded with a different everyday opening or closing on each pass, so
  no request text repeats (the assistant memoises query embeddings; repeating texts would
  measure that cache).
- *Generated corpora* (`bench/generate_corpus.py`): each school copies one of the five seed
  policies with a new name, contacts and dates, its top-level sections reordered and a
  per-school set of synonyms; they chunk into the seed's clause count ±2.

**The textbook recipe** (`bench/textbook.py`, served by `bench/textbook_server.py`):
`RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)`, the assistant's own
embeddings (`shared_embeddings()`, so both pay the same model cost per text), a persistent
`langchain-chroma` store with the school as metadata, top-5 `similarity_search` filtered by
school; its `ask` is our verdict rule on its top chunk. It does *not* do clause chunking,
sentence vectors, BM25, query rewriting, audience boosts, abstention, rate limiting, the web
pages or input validation beyond pydantic's, so its figures are a floor for the same models and
store rather than a product. Ratios are ours ÷ textbook (below 1 is faster or smaller for
latency, seconds and memory; above 1 is more for throughput).
"""


#: The written analysis of the missed targets (with its profile), kept beside the scripts.
LIMITS = Path(__file__).with_name("limits.md")


def render_document(results: list[dict]) -> str:
    """The whole BENCHMARKS.md: the preamble, each size's tables, then `LIMITS`."""
    limits = "\n" + LIMITS.read_text(encoding="utf-8") if LIMITS.exists() else ""
    return PREAMBLE + "\n" + "\n".join(render_size(r) for r in results) + limits
