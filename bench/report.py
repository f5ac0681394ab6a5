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


def _div(a, b):
    """Return a / b, or None when either is missing (a system not measured at this size)."""
    return None if a is None or not b else a / b


def _get(d: dict | None, *keys):
    """``d[k1][k2]…``, or None where a level is missing (the textbook not run at a size)."""
    for key in keys:
        if not isinstance(d, dict) or key not in d:
            return None
        d = d[key]
    return d


def _unit(value, unit: str, digits: int = 1) -> str:
    """A number with its unit, or "–" alone when it was not measured."""
    return "–" if value is None else f"{_num(value, digits)}{unit}"


def _count(value) -> str:
    return "–" if value is None else f"{value:,}"


def latency_table(r: dict) -> str:
    """Single-client ask/search p50/p95/p99 (ms), in-process and over HTTP, ours vs textbook."""
    rows = []
    for where, source in (("in-process", r["inprocess"]), ("HTTP", r["http"])):
        for call in ("ask", "search"):
            o, t = source["ours"][call], _get(source, "textbook", call) or {}
            rows.append(
                [f"`{call}` {where}", str(o["n"])]
                + [_num(o[p]) for p in ("p50", "p95", "p99")]
                + [_num(t.get(p)) for p in ("p50", "p95", "p99")]
                + [_ratio(o["p50"], t.get("p50")), _ratio(o["p95"], t.get("p95"))]
            )
    header = ["single client", "requests", "ours p50", "ours p95", "ours p99", "textbook p50", "textbook p95", "textbook p99"]
    return _table([*header, "ratio p50", "ratio p95"], rows)


def load_table(r: dict) -> str:
    """Throughput and latency of ``/api/ask`` under concurrent clients, ours vs textbook."""
    rows = []
    ours_load = r["http"]["ours"]["load"]
    textbook_load = _get(r["http"], "textbook", "load") or [{}] * len(ours_load)
    for o, t in zip(ours_load, textbook_load, strict=True):
        rows.append(
            [
                str(o["clients"]),
                str(o["n"] + sum(o["errors"].values())),
                _num(o["throughput"]),
                _num(o["p50"], 0),
                _num(o["p95"], 0),
                _errors(o["errors"]),
                _num(t.get("throughput")),
                _num(t.get("p50"), 0),
                _num(t.get("p95"), 0),
                _errors(t["errors"]) if t else "–",
                _ratio(o["throughput"], t.get("throughput")),
                _ratio(o["p95"], t.get("p95")),
            ]
        )
    header = ["clients", "requests", "ours q/s", "ours p50 ms", "ours p95 ms", "ours errors"]
    header += ["textbook q/s", "textbook p50 ms", "textbook p95 ms", "textbook errors", "ratio q/s", "ratio p95"]
    return _table(header, rows)


def ingest_table(r: dict) -> str:
    """Ingest throughput, cold and warm embedding cache, ours (clauses) vs textbook (chunks)."""
    kb = r["corpus_bytes"] / 1024
    o, t = r["ingest"]["ours"], r["ingest"].get("textbook") or {}
    rows = [
        [
            "units indexed (ours: clauses; textbook: 1,000-character chunks)",
            _count(o["cold"]["items"]),
            _count(_get(t, "cold", "items")),
            "–",
        ]
    ]
    for phase in ("cold", "warm"):
        oc, tc = o[phase], t.get(phase) or {}
        label = "cold embedding cache" if phase == "cold" else "warm embedding cache"
        o_rate, t_rate = _div(kb, oc["seconds"]), _div(kb, tc.get("seconds"))
        rows.append([f"{label}: build seconds", _num(oc["seconds"]), _num(tc.get("seconds")), _ratio(oc["seconds"], tc.get("seconds"))])
        rows.append([f"{label}: units/s", _num(oc["items"] / oc["seconds"]), _num(_div(tc.get("items"), tc.get("seconds"))), "–"])
        rows.append([f"{label}: corpus KB/s", _num(o_rate), _num(t_rate), _ratio(o_rate, t_rate)])
    if "texts_embedded" in o["cold"]:
        te_o, te_t = o["cold"]["texts_embedded"], _get(t, "cold", "texts_embedded")
        rows.append(["cold: distinct texts run through the models", _count(te_o), _count(te_t), _ratio(te_o, te_t)])
        rows.append(["cold: model texts/s", _num(te_o / o["cold"]["seconds"]), _num(_div(te_t, _get(t, "cold", "seconds"))), "–"])
    rows.append(["process start to models loaded, s", _num(o["cold"]["model_load_s"]), _num(_get(t, "cold", "model_load_s")), "–"])
    table = _table(["ingest", "ours", "textbook", "ratio"], rows)
    reused = [f"{s}: measured {v['reused_from']}" for s, v in (("ours", o), ("textbook", t)) if v.get("reused_from")]
    if reused:
        table += "\n\nIngest figures reused from the run that built the kept index (" + "; ".join(reused) + ")."
    t_cold = t.get("cold") or {}
    if t_cold.get("runs", 1) > 1:
        table += (
            f"\n\nThe textbook's cold build was interrupted and resumed: {t_cold['runs']} runs from {t.get('cold_started', '?')}, "
            f"their build seconds summed ({_num(t_cold.get('cpu_seconds'))} CPU seconds over the same spans; "
            "the machine may have run other work meanwhile)."
        )
    if o.get("code_changed_since"):
        table += (
            f"\n\nThe ingest code has changed since these cold and warm figures were measured ({o['code_changed_since']}). "
            "The kept index was brought up to date by re-ingesting it in place with the current code, vectors copied from it: "
            + "; ".join(
                f"{run['measured']}: {_num(run['seconds'])} s for {_count(run['items'])} clauses "
                f"({_count(run.get('vectors_reused', 0))} vectors copied, {_count(run.get('vectors_embedded', 0))} embedded)"
                for run in o.get("in_place", [])
                if run.get("changed", True)
            )
            + "."
        )
    return table


def start_memory_table(r: dict) -> str:
    """Cold start to first answer and resident memory, ours vs textbook."""
    o, t = r["http"]["ours"], r["http"].get("textbook") or {}
    io, it = r["inprocess"]["ours"], r["inprocess"].get("textbook") or {}
    rows = [
        ["server: process start to first answer, s", _num(o["cold_start_s"]), _num(t.get("cold_start_s")), _ratio(o["cold_start_s"], t.get("cold_start_s"))],
        ["server RSS after loading, MB", _num(o["rss_loaded"] / MB, 0), _num(_div(t.get("rss_loaded"), MB), 0), _ratio(o["rss_loaded"], t.get("rss_loaded"))],
        ["server RSS after the load tests, MB", _num(o["rss_after"] / MB, 0), _num(_div(t.get("rss_after"), MB), 0), _ratio(o["rss_after"], t.get("rss_after"))],
        ["in-process: start to index loaded, s", _num(io["load_s"]), _num(it.get("load_s")), _ratio(io["load_s"], it.get("load_s"))],
        ["in-process RSS after the latency runs, MB", _num(io["rss_after"] / MB, 0), _num(_div(it.get("rss_after"), MB), 0), _ratio(io["rss_after"], it.get("rss_after"))],
    ]  # fmt: skip
    return _table(["start and memory", "ours", "textbook", "ratio"], rows)


def workers_table(r: dict) -> str:
    """Throughput at 32 clients with 1 and 2 server workers (or why it was skipped)."""
    w = r.get("workers", {})
    if "skipped" in w:
        return f"Skipped: {w['skipped']}."
    measured = [s for s in ("ours", "textbook") if s in w]
    one = {s: next(x for x in r["http"][s]["load"] if x["clients"] == w[s]["clients"]) for s in measured}
    rows = []
    for label, src in (("1 worker", one), ("2 workers", w)):
        tb = src.get("textbook") or {}
        rows.append(
            [
                label,
                _num(src["ours"]["throughput"]),
                _num(src["ours"]["p95"], 0),
                _num(tb.get("throughput")),
                _num(tb.get("p95"), 0),
                _ratio(src["ours"]["throughput"], tb.get("throughput")),
            ]
        )
    tb_scaling = _ratio(_get(w, "textbook", "throughput"), _get(one, "textbook", "throughput"))
    rows.append(
        ["scaling 1 → 2", _ratio(w["ours"]["throughput"], one["ours"]["throughput"]) + "×", "", tb_scaling + ("×" if tb_scaling != "–" else ""), "", ""]
    )  # fmt: skip
    clients = w["ours"]["clients"]
    return _table([f"{clients} clients", "ours q/s", "ours p95 ms", "textbook q/s", "textbook p95 ms", "ratio q/s"], rows)


def targets(r: dict) -> list[tuple[str, str, str, bool]]:
    """Issue 5's targets checked against one size's results: (target, ours measured, textbook measured, met)."""
    n = r["schools"]
    limit = 50 if n <= 5 else 150
    at = "5 schools" if n <= 5 else ("1,000 schools" if n == 1000 else f"1,000 schools (here {n})")
    io, it = r["inprocess"]["ours"]["ask"], _get(r["inprocess"], "textbook", "ask") or {}
    load32 = {s: next((x for x in r["http"][s]["load"] if x["clients"] == 32), None) for s in ("ours", "textbook") if s in r["http"]}
    cold_o, cold_t = r["ingest"]["ours"]["cold"], _get(r["ingest"], "textbook", "cold") or {}
    rss_o = max(r["http"]["ours"]["rss_loaded"], r["http"]["ours"]["rss_after"])
    tb_http = r["http"].get("textbook")
    rss_t = max(tb_http["rss_loaded"], tb_http["rss_after"]) if tb_http else None
    out = [(f"`ask` p95 in-process ≤ {limit} ms at {at}", f"{_num(io['p95'])} ms", _unit(it.get("p95"), " ms"), io["p95"] <= limit)]
    if load32.get("ours"):
        o, t = load32["ours"], load32.get("textbook") or {}
        out.append(
            ("≥ 100 answered/s at 32 HTTP clients", f"{_num(o['throughput'])}/s", _unit(t.get("throughput"), "/s"), o["throughput"] >= 100)
        )
        out.append(("p95 ≤ 500 ms at 32 HTTP clients", f"{_num(o['p95'], 0)} ms", _unit(t.get("p95"), " ms", 0), o["p95"] <= 500))
    rate_o, rate_t = cold_o["items"] / cold_o["seconds"], _div(cold_t.get("items"), cold_t.get("seconds"))
    out.append(("ingest ≥ 300 clauses/s (cold embedding cache)", f"{_num(rate_o)}/s", _unit(rate_t, " chunks/s"), rate_o >= 300))
    out.append(
        (
            f"server RSS ≤ 1.5 GB (target for 1,000 schools; here {n})",
            f"{_num(rss_o / MB, 0)} MB",
            _unit(_div(rss_t, MB), " MB", 0),
            rss_o <= 1.5 * 2**30,
        )
    )
    cs_o, cs_t = r["http"]["ours"]["cold_start_s"], _get(tb_http, "cold_start_s")
    out.append(("cold start to first answer ≤ 15 s", f"{_num(cs_o)} s", _unit(cs_t, " s"), cs_o <= 15))
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
    for system, reason in (r.get("skipped_systems") or {}).items():
        parts.append(f"**The {system} recipe is not measured at this size** (its columns show –): {reason}.")
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
