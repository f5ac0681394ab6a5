"""A bounded HTTP load generator: N concurrent clients, a fixed number of requests, then it stops.

Each client is an asyncio task that takes the next request body from a shared list,
POSTs it, records the latency (client side, HTTP included) and status, and repeats until
the list is used up. A closed loop: a client sends its next request only when the
previous one has been answered, as a person waiting for an answer does.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import httpx


@dataclass
class LoadResult:
    """What one load run measured.

    Attributes:
        concurrency: clients; seconds: wall time from the first request to the last answer;
        ok_ms: latency of each 200 response, in milliseconds; errors: status code (or
        exception name) → count of failed requests.
    """

    concurrency: int
    seconds: float
    ok_ms: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def throughput(self) -> float:
        """Answered (200) requests per second."""
        return len(self.ok_ms) / self.seconds if self.seconds else 0.0


async def _run(base_url: str, path: str, bodies: list[dict], concurrency: int, timeout: float) -> LoadResult:
    queue = iter(bodies)
    result = LoadResult(concurrency, 0.0)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=timeout) as client:

        async def one_client() -> None:
            for body in queue:
                started = time.perf_counter()
                try:
                    response = await client.post(path, json=body)
                    status = response.status_code
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                elapsed = (time.perf_counter() - started) * 1000
                if status == 200:
                    result.ok_ms.append(elapsed)
                else:
                    result.errors[str(status)] = result.errors.get(str(status), 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(one_client() for _ in range(concurrency)))
        result.seconds = time.perf_counter() - started
    return result


def run_load(base_url: str, bodies: list[dict], concurrency: int, path: str = "/api/ask", timeout: float = 120) -> LoadResult:
    """Send every body of ``bodies`` to ``base_url + path`` from ``concurrency`` clients; returns the `LoadResult`."""
    return asyncio.run(_run(base_url, path, bodies, concurrency, timeout))


def run_sequential(base_url: str, bodies: list[dict], path: str, timeout: float = 120) -> LoadResult:
    """One client, one request at a time (single-client latency over HTTP)."""
    return run_load(base_url, bodies, 1, path, timeout)
