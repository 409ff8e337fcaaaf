"""The AWS requests served per account, in order, for tests to assert on
(GET /_sandbox/requests): which actions were called, how each was answered, which fault
applied. Bounded, so a long-lived account costs a fixed amount of memory."""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

LIMIT = 5000


class RequestLog:
    def __init__(self, limit: int = LIMIT) -> None:
        self._lock = threading.Lock()
        self._limit = limit
        self._entries: dict[str, deque[dict[str, Any]]] = {}

    def add(self, account: str, action: str, status: int | None, fault: str | None,
            error: str | None) -> None:
        entry = {"action": action, "status": status, "fault": fault, "error": error}
        with self._lock:
            log = self._entries.get(account)
            if log is None:
                log = self._entries[account] = deque(maxlen=self._limit)
            log.append(entry)

    def get(self, account: str) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(e) for e in self._entries.get(account, ())]

    def clear(self, account: str) -> int:
        with self._lock:
            return len(self._entries.pop(account, ()))

    def reset(self) -> None:
        with self._lock:
            self._entries.clear()
