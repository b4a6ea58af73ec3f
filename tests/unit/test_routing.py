"""Routing by grade: route() over the shipped queues and service policy, and the
queues file (validation, queues.conf rendering)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from agi_app.core.config import ConfigError
from agi_app.core.customer import Customer
from agi_app.core.routing.config import load_queues, load_service, render_queues_conf
from agi_app.core.routing.route import route
from agi_app.settings import PROJECT_ROOT

CONFIG = PROJECT_ROOT / "config"
QUEUES = load_queues(CONFIG / "queues.yaml")
POLICY = load_service(CONFIG / "service.yaml", QUEUES)
NOW = datetime(2027, 3, 15, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def who(
    grade: str,
    *,
    status: str = "active",
    agent: str | None = None,
    hours_ago: float | None = None,
) -> Customer:
    contact = None if hours_ago is None else NOW - timedelta(hours=hours_ago)
    return Customer(
        "+8613800138000", "张三", grade, status=status, last_agent=agent, last_contact_at=contact
    )


@dataclass(frozen=True)
class Expect:
    queue: str
    priority: int
    grade: str
    skip_first_menu: bool = False
    reason: str = ""


@pytest.mark.parametrize(
    ("customer", "requested", "expect"),
    [
        (who("diamond"), None, Expect("support", 10, "diamond", True, "grade diamond")),
        (who("platinum"), None, Expect("support", 8, "platinum", True, "grade platinum")),
        (who("gold"), None, Expect("support", 5, "gold", False, "grade gold")),
        (who("standard"), None, Expect("support", 0, "standard", False, "grade standard")),
        # not in the CRM, or a grade the policy does not know: standard
        (None, None, Expect("support", 0, "standard", False, "grade standard")),
        (who("bronze"), None, Expect("support", 0, "standard", False, "grade standard")),
        # suspended accounts: priority capped at suspended_priority (0)
        (
            who("gold", status="suspended"),
            None,
            Expect("support", 0, "gold", False, "suspended account"),
        ),
        (
            who("diamond", status="suspended"),
            None,
            Expect("support", 0, "diamond", True, "suspended account"),
        ),
        # sticky agent within 48 h: the first queue listing the agent, priority +5
        (
            who("gold", agent="agent3", hours_ago=47),
            None,
            Expect("billing", 10, "gold", False, "sticky agent agent3"),
        ),
        (
            who("gold", agent="agent3", hours_ago=48),
            None,
            Expect("billing", 10, "gold", False, "sticky agent agent3"),
        ),
        (
            who("standard", agent="agent4", hours_ago=1),
            None,
            Expect("english", 5, "standard", False, "sticky agent agent4"),
        ),
        (
            who("silver", agent="agent2", hours_ago=2),
            None,
            Expect("support", 7, "silver", False, "sticky agent agent2"),
        ),
        # outside the window, no contact time, or an agent in no queue: not sticky
        (
            who("gold", agent="agent3", hours_ago=49),
            None,
            Expect("support", 5, "gold", False, "grade gold"),
        ),
        (who("gold", agent="agent3"), None, Expect("support", 5, "gold", False, "grade gold")),
        (
            who("gold", agent="agent9", hours_ago=1),
            None,
            Expect("support", 5, "gold", False, "grade gold"),
        ),
        # a flow's requested queue: "english" is kept, "support" is the grade's to decide
        (who("gold"), "english", Expect("english", 5, "gold", False, "grade gold")),
        (who("diamond"), "english", Expect("english", 10, "diamond", True, "grade diamond")),
        (who("diamond"), "support", Expect("support", 10, "diamond", True, "grade diamond")),
        (who("gold"), "support", Expect("support", 5, "gold", False, "grade gold")),
        (None, "billing", Expect("billing", 0, "standard", False, "grade standard")),
    ],
)
def test_route(customer: Customer | None, requested: str | None, expect: Expect) -> None:
    r = route(customer, NOW, POLICY, QUEUES, requested)
    assert Expect(r.queue, r.priority, r.grade, r.skip_first_menu, r.reason) == expect


@pytest.mark.parametrize(
    ("grade", "dedicated", "exempt"),
    [
        ("diamond", True, True),
        ("platinum", True, True),
        ("gold", False, False),
        ("standard", False, False),
    ],
)
def test_route_carries_grade_policy(grade: str, dedicated: bool, exempt: bool) -> None:
    r = route(who(grade), NOW, POLICY, QUEUES)
    assert (r.offer_dedicated_agent, r.exempt_from_shedding) == (dedicated, exempt)


def test_render_queues_conf() -> None:
    conf = render_queues_conf(QUEUES)
    sections = [line for line in conf.splitlines() if line.startswith("[")]
    assert sections == ["[general]", "[vip]", "[support]", "[billing]", "[english]"]
    assert "member => PJSIP/agent1,0,agent1" in conf
    assert "member => PJSIP/agent3,0,agent3" in conf
    vip = conf.split("[vip]\n", 1)[1].split("\n\n", 1)[0]
    assert "announce-position=yes" in vip
    assert vip.count("member => ") == 2
    general = conf.split("[general]\n", 1)[1].split("\n\n", 1)[0]
    assert "member =>" not in general


QUEUE_FILE = """\
queues:
  {name}:
    members:
      - {{endpoint: agent1, port: 5071}}
"""


@pytest.mark.parametrize("name", ["general", "bad-name", "vip queue"])
def test_load_queues_refuses_bad_names(tmp_path: Path, name: str) -> None:
    path = tmp_path / "queues.yaml"
    path.write_text(QUEUE_FILE.format(name=name), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_queues(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: queues: ")
    assert f"bad queue name {name!r} ('general' is reserved by app_queue)" in message


def test_load_queues_refuses_unknown_keys(tmp_path: Path) -> None:
    path = tmp_path / "queues.yaml"
    path.write_text("queues:\n  support: {overflow: nowhere}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="overflow: Extra inputs are not permitted") as caught:
        load_queues(path)
    assert str(caught.value).startswith(str(path))


def test_load_service_refuses_unknown_queue(tmp_path: Path) -> None:
    path = tmp_path / "service.yaml"
    text = (
        (CONFIG / "service.yaml")
        .read_text(encoding="utf-8")
        .replace("{queue: support, queue_priority: 10", "{queue: gold_lounge, queue_priority: 10")
    )
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_service(path, QUEUES)
    assert str(caught.value) == f"{path}: policy.diamond.queue: unknown queue 'gold_lounge'"
