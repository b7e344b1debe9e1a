"""The Message Batches half of the fake Anthropic API (served by fake_anthropic.FakeAnthropic).

- `POST /v1/messages/batches` creates a batch; it processes for `delay` seconds (or until
  `end_all()` when `delay` is None), then every request has a result.
- `GET .../batches/{id}`, `GET .../batches` (newest first, `limit`/`after_id`), `POST
  .../{id}/cancel` (what has not ended is canceled), `GET .../{id}/results` (JSONL, in an order
  that is not the request order, from the `results_url` the batch names: this server).
- Each request is answered as the live endpoint would answer it (`FakeAnthropic.message_for`),
  so the same `Fault` rules apply: a fault with an HTTP status becomes an `errored` result of that
  error type; `Fault(batch_result="expired")` or `"canceled"` gives those results.
- `create_delay` holds the create response after the batch exists: a client killed meanwhile has
  a batch it never learnt the id of (an orphan).
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

PREFIX = "/v1/messages/batches"


def rfc3339(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat().replace("+00:00", "Z")


@dataclass
class FakeBatch:
    """One batch as the server keeps it."""

    id: str
    created: float
    requests: list[dict[str, Any]]
    ends_at: float | None  # None: processing until ended by hand
    cancel_at: float | None = None
    ended_by_hand: float | None = None
    results: list[dict[str, Any]] = field(default_factory=list)
    polls: int = 0

    def ended_at(self, now: float) -> float | None:
        marks = [t for t in (self.ends_at, self.cancel_at, self.ended_by_hand) if t is not None]
        done = min(marks) if marks else None
        return done if done is not None and done <= now else None


class FakeBatches:
    """Batch state and answers; `answer(custom_id, params)` gives one request's result."""

    def __init__(
        self,
        base_url: Callable[[], str],
        answer: Callable[[dict[str, Any]], dict[str, Any]],
        *,
        delay: float | None = 0.2,
        seed: int = 0,
    ) -> None:
        self.base_url = base_url
        self.answer = answer
        self.delay = delay
        self.create_delay = 0.0
        self.seed = seed
        self.batches: dict[str, FakeBatch] = {}
        self.order: list[str] = []  # creation order
        self.calls: list[str] = []  # "create", "retrieve", "list", "cancel", "results"
        self._lock = threading.Lock()

    # --- test helpers ---

    def end_all(self) -> None:
        """Every batch still processing ends now."""
        with self._lock:
            now = time.time()
            for batch in self.batches.values():
                if batch.ended_at(now) is None:
                    batch.ended_by_hand = now

    def requested(self) -> list[tuple[str, str]]:
        """(batch id, custom_id) of every request ever submitted, in submission order."""
        with self._lock:
            return [(b, r["custom_id"]) for b in self.order for r in self.batches[b].requests]

    # --- serving ---

    def handle(self, method: str, path: str, body: bytes) -> tuple[int, Any]:
        """(status, JSON object, or an iterator of JSONL lines) for one request."""
        route, _, query = path.partition("?")
        parts = route[len(PREFIX) :].strip("/").split("/") if route != PREFIX else []
        if method == "POST" and not parts:
            return self._create(json.loads(body))
        if method == "GET" and not parts:
            return self._list(dict(p.split("=", 1) for p in query.split("&") if "=" in p))
        batch = self.batches.get(parts[0]) if parts else None
        if batch is None:
            return 404, _error(404, "not_found_error", "batch not found")
        if method == "GET" and len(parts) == 1:
            with self._lock:
                self.calls.append("retrieve")
                batch.polls += 1
            return 200, self._view(batch)
        if method == "POST" and parts[1:] == ["cancel"]:
            with self._lock:
                self.calls.append("cancel")
                if batch.ended_at(time.time()) is None and batch.cancel_at is None:
                    batch.cancel_at = time.time() + 0.05
            return 200, self._view(batch)  # outside the lock: a view may compute results
        if method == "GET" and parts[1:] == ["results"]:
            self.calls.append("results")
            if self._ended(batch) is None:
                return 400, _error(400, "invalid_request_error", "batch has not ended")
            return 200, self._results(batch)
        return 404, _error(404, "not_found_error", "no such route")

    def _create(self, body: dict[str, Any]) -> tuple[int, Any]:
        requests = body.get("requests")
        if not isinstance(requests, list) or not requests:
            return 400, _error(400, "invalid_request_error", "requests: must be a non-empty list")
        ids = [r.get("custom_id") for r in requests]
        if len(set(ids)) != len(ids):
            return 400, _error(400, "invalid_request_error", "custom_id values must be unique")
        with self._lock:
            self.calls.append("create")
            now = time.time()
            batch = FakeBatch(
                id=f"msgbatch_fake{len(self.order) + 1:04d}",
                created=now,
                requests=requests,
                ends_at=None if self.delay is None else now + self.delay,
            )
            self.batches[batch.id] = batch
            self.order.append(batch.id)
        view = self._view(batch)  # outside the lock: an ended batch's view computes results
        if self.create_delay:
            time.sleep(self.create_delay)
        return 200, view

    def _list(self, query: dict[str, str]) -> tuple[int, Any]:
        with self._lock:
            self.calls.append("list")
            newest_first = [self.batches[b] for b in reversed(self.order)]
        after = query.get("after_id")
        if after:
            ids = [b.id for b in newest_first]
            newest_first = newest_first[ids.index(after) + 1 :] if after in ids else []
        limit = int(query.get("limit", "20"))
        page = newest_first[:limit]
        return 200, {
            "data": [self._view(b) for b in page],
            "has_more": len(newest_first) > limit,
            "first_id": page[0].id if page else None,
            "last_id": page[-1].id if page else None,
        }

    def _ended(self, batch: FakeBatch) -> float | None:
        return batch.ended_at(time.time())

    def _outcomes(self, batch: FakeBatch) -> list[dict[str, Any]]:
        """Each request's result, computed once when the batch has ended."""
        with self._lock:
            if batch.results:
                return batch.results
            canceled = batch.cancel_at is not None and batch.cancel_at == batch.ended_at(
                time.time()
            )
        results = []
        for request in batch.requests:
            if canceled:
                result: dict[str, Any] = {"type": "canceled"}
            else:
                result = self.answer(request["params"])
            results.append({"custom_id": request["custom_id"], "result": result})
        random.Random(f"{self.seed}:{batch.id}").shuffle(results)  # not request order
        with self._lock:
            batch.results = results
        return results

    def _counts(self, batch: FakeBatch) -> dict[str, int]:
        counts = dict.fromkeys(("processing", "succeeded", "errored", "canceled", "expired"), 0)
        if self._ended(batch) is None:
            counts["processing"] = len(batch.requests)
            return counts
        for line in self._outcomes(batch):
            counts[line["result"]["type"]] += 1
        return counts

    def _view(self, batch: FakeBatch) -> dict[str, Any]:
        ended = self._ended(batch)
        if ended is not None:
            status = "ended"
        elif batch.cancel_at is not None:
            status = "canceling"
        else:
            status = "in_progress"
        return {
            "id": batch.id,
            "type": "message_batch",
            "processing_status": status,
            "request_counts": self._counts(batch),
            "created_at": rfc3339(batch.created),
            "expires_at": rfc3339(batch.created + 86400),
            "ended_at": rfc3339(ended) if ended is not None else None,
            "cancel_initiated_at": rfc3339(batch.cancel_at) if batch.cancel_at else None,
            "archived_at": None,
            "results_url": (
                f"{self.base_url()}{PREFIX}/{batch.id}/results" if ended is not None else None
            ),
        }

    def _results(self, batch: FakeBatch) -> Iterator[bytes]:
        for line in self._outcomes(batch):
            yield json.dumps(line).encode() + b"\n"


def _error(status: int, kind: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": kind, "message": message}}
