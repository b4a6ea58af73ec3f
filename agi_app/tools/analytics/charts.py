"""Pictures of the analytics reports (matplotlib, Agg: no display needed).

The file name's suffix chooses the format: ``.svg`` or ``.png``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agi_app.core.analytics.reports import Report

FORMATS = (".svg", ".png")


def _figure(height: float) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, max(3.0, height)))
    return fig, ax


def _save(fig: Any, path: Path) -> None:
    import matplotlib.pyplot as plt

    if path.suffix.lower() not in FORMATS:
        raise ValueError(f"chart file must end in .svg or .png, not {path.name}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def funnel_chart(report: Report, path: Path) -> None:
    """Horizontal bars per node: visits, split into hung up / asked agent / the rest."""
    rows = [r for r in report.rows if r["type"] not in ("branch", "set", "goto", "return")]
    labels = [f"{r['node']} ({r['median_s']}s)" for r in rows][::-1]
    fig, ax = _figure(0.35 * len(rows) + 1.5)
    hung = [r["hung_up"] for r in rows][::-1]
    agent = [r["asked_agent"] for r in rows][::-1]
    rest = [r["visits"] - r["hung_up"] - r["asked_agent"] for r in rows][::-1]
    ax.barh(labels, rest, color="#4c78a8", label="went on")
    ax.barh(labels, agent, left=rest, color="#f58518", label="asked for an agent")
    left = [a + b for a, b in zip(rest, agent, strict=True)]
    ax.barh(labels, hung, left=left, color="#e45756", label="hung up")
    ax.set_xlabel("visits (median dwell in brackets)")
    ax.set_title("Funnel per node")
    ax.legend(loc="lower right")
    _save(fig, path)


def paths_chart(report: Report, path: Path) -> None:
    """Bars of the commonest paths by share."""
    rows = report.rows[::-1]
    fig, ax = _figure(0.45 * len(rows) + 1.5)
    labels = [_short(r["path"]) for r in rows]
    ax.barh(labels, [100 * r["share"] for r in rows], color="#4c78a8")
    for i, r in enumerate(rows):
        ax.text(100 * r["share"], i, f" {r['calls']}", va="center", fontsize=8)
    ax.set_xlabel("share of calls (%)")
    ax.set_title("Commonest paths")
    ax.tick_params(axis="y", labelsize=7)
    _save(fig, path)


def _short(p: str, limit: int = 70) -> str:
    return p if len(p) <= limit else "…" + p[-limit:]


def repeats_chart(report: Report, path: Path) -> None:
    """Repeat rates within 24 h and 7 days per last node."""
    rows = [r for r in report.rows if r["last_node"] != "(all)"][::-1]
    fig, ax = _figure(0.4 * len(rows) + 1.5)
    y = range(len(rows))
    ax.barh([i + 0.2 for i in y], [100 * r["rate_7d"] for r in rows], 0.4, label="within 7 days")
    ax.barh([i - 0.2 for i in y], [100 * r["rate_24h"] for r in rows], 0.4, label="within 24 h")
    ax.set_yticks(list(y), [f"{r['flow']}: {r['last_node']}" for r in rows])
    ax.set_xlabel("callers who called again (%)")
    ax.set_title("Repeat calls by the last node of the first call")
    ax.legend(loc="lower right")
    _save(fig, path)


def staffing_chart(report: Report, path: Path) -> None:
    """Arrivals and Erlang C agents per half hour, one line pair per queue."""
    fig, ax = _figure(4.5)
    twin = ax.twinx()
    queues = sorted({r["queue"] for r in report.rows})
    for q in queues:
        rows = [r for r in report.rows if r["queue"] == q]
        x = [_hours(r["slot"]) for r in rows]
        twin.plot(x, [r["arrivals"] for r in rows], linestyle=":", label=f"{q} arrivals")
        ax.step(x, [r["agents"] for r in rows], where="post", label=f"{q} agents")
    ax.set_xlim(0, 24)
    ax.set_xticks(range(0, 25, 2))
    ax.set_xlabel("hour of the day")
    ax.set_ylabel("agents needed (Erlang C)")
    twin.set_ylabel("arrivals per half hour")
    t = report.summary.get("targets", {})
    ax.set_title(
        f"Staffing: {t.get('service_level', 0):.0%} answered within "
        f"{t.get('answer_within_s', 0):g} s"
    )
    if queues:  # an empty period draws empty axes, without legends
        ax.legend(loc="upper left")
        twin.legend(loc="upper right")
    _save(fig, path)


def _hours(slot: str) -> float:
    h, m = slot.split(":")
    return int(h) + int(m) / 60


CHARTS = {
    "funnel": funnel_chart,
    "paths": paths_chart,
    "repeats": repeats_chart,
    "staffing": staffing_chart,
}
