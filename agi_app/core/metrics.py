"""In-process timing figures (bench and the admin endpoint read them)."""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable


class Metrics:
    """Recent samples per name (bounded) and counters."""

    def __init__(self, keep: int = 200_000) -> None:
        self._samples: dict[str, deque[float]] = defaultdict(lambda: deque(maxlen=keep))
        self.counters: dict[str, int] = defaultdict(int)
        self._listeners: dict[str, list[Callable[[float], None]]] = defaultdict(list)

    def listen(self, name: str, listener: Callable[[float], None]) -> None:
        """Also hand every sample of ``name`` to ``listener`` (an exporter's histogram)."""
        self._listeners[name].append(listener)

    def observe(self, name: str, value_ms: float) -> None:
        self._samples[name].append(value_ms)
        for listener in self._listeners.get(name, ()):
            listener(value_ms)

    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] += n

    def reset(self) -> None:
        self._samples.clear()
        self.counters.clear()

    def summary(self) -> dict[str, dict[str, float]]:
        """p50/p99/max/count per name."""
        out: dict[str, dict[str, float]] = {}
        for name, values in self._samples.items():
            if not values:
                continue
            ordered = sorted(values)
            n = len(ordered)
            out[name] = {
                "count": n,
                "p50": ordered[n // 2],
                "p99": ordered[min(n - 1, int(n * 0.99))],
                "max": ordered[-1],
            }
        return out


METRICS = Metrics()
