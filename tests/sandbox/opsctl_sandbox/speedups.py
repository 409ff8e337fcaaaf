"""Runtime speed-ups for moto's server, with no change in behaviour.

moto's dispatcher asks `moto.backends.list_of_moto_modules()` on every request, and that
lists and stats moto's package folder each time (some 180 stat calls a request). The folder
does not change while the server runs, so the answer is computed once.
"""

from __future__ import annotations

from typing import Iterable

import moto.backends as backends

_applied = False


def apply() -> None:
    global _applied
    if _applied:
        return
    _applied = True
    modules = tuple(backends.list_of_moto_modules())

    def list_of_moto_modules() -> Iterable[str]:
        return iter(modules)

    backends.list_of_moto_modules = list_of_moto_modules  # type: ignore[assignment]
