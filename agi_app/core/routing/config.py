"""config/queues.yaml and config/service.yaml, validated (errors name file and key)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from agi_app.core.config import ConfigError, field_error, load_yaml

__all__ = ["ConfigError"]  # raised by the loaders below


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Member(Strict):
    endpoint: str = Field(pattern=r"^[a-z0-9_]+$")
    port: int = Field(ge=1024, le=65535)
    penalty: int = Field(default=0, ge=0)


class QueueConf(Strict):
    strategy: str = "rrmemory"
    ring_timeout_s: int = Field(default=15, ge=1, le=300)
    announce_position: bool = False
    max_callers: int = Field(default=0, ge=0)
    members: list[Member] = Field(default_factory=list)


class QueuesFile(Strict):
    queues: dict[str, QueueConf] = Field(min_length=1)

    @field_validator("queues")
    @classmethod
    def _names(cls, v: dict[str, QueueConf]) -> dict[str, QueueConf]:
        for name in v:
            if name == "general" or not name.replace("_", "").isalnum():
                raise ValueError(f"bad queue name {name!r} ('general' is reserved by app_queue)")
        return v


class GradePolicy(Strict):
    queue: str
    queue_priority: int = Field(ge=0, le=100)
    skip_first_menu: bool = False
    offer_dedicated_agent: bool = False
    exempt_from_shedding: bool = False
    language: str | None = None


class Sticky(Strict):
    within_hours: float = Field(default=48, ge=0)
    priority_boost: int = Field(default=5, ge=0, le=50)


class RiskPolicy(Strict):
    """What routing does for a caller at complaint risk (config/risk.yaml's threshold)."""

    exempt_from_shedding: bool = False
    priority_boost: int = Field(default=0, ge=0, le=50)
    queue: str | None = None  # a retention queue, if the line has one


class ServicePolicy(Strict):
    grades: list[str] = Field(min_length=1)
    unknown_grade: str
    override_queues: list[str] = Field(default_factory=list)
    policy: dict[str, GradePolicy]
    suspended_priority: int = 0
    sticky_agent: Sticky = Sticky()
    complaint_risk: RiskPolicy = RiskPolicy()

    @model_validator(mode="after")
    def _complete(self) -> ServicePolicy:
        missing = [g for g in self.grades if g not in self.policy]
        extra = [g for g in self.policy if g not in self.grades]
        if missing or extra or self.unknown_grade not in self.grades:
            raise ValueError(
                f"policy must cover exactly the grades (missing {missing}, "
                f"unknown {extra}, unknown_grade {self.unknown_grade!r})"
            )
        return self

    def rank(self, grade: str) -> int:
        """0 for the highest grade; unknown grades rank as unknown_grade."""
        g = grade if grade in self.grades else self.unknown_grade
        return self.grades.index(g)


def load_queues(path: Path) -> QueuesFile:
    return load_yaml(path, QueuesFile)


def load_service(path: Path, queues: QueuesFile) -> ServicePolicy:
    policy = load_yaml(path, ServicePolicy)
    for grade, gp in policy.policy.items():
        if gp.queue not in queues.queues:
            raise field_error(path, f"policy.{grade}.queue", f"unknown queue {gp.queue!r}")
    risk_queue = policy.complaint_risk.queue
    if risk_queue is not None and risk_queue not in queues.queues:
        raise field_error(path, "complaint_risk.queue", f"unknown queue {risk_queue!r}")
    return policy


def queue_names(config_dir: Path) -> set[str]:
    return set(load_queues(config_dir / "queues.yaml").queues)


def grade_names(config_dir: Path) -> set[str]:
    """The customer grades service.yaml defines (what flows' ``grade_in`` may name)."""
    queues = load_queues(config_dir / "queues.yaml")
    return set(load_service(config_dir / "service.yaml", queues).grades)


def render_queues_conf(qf: QueuesFile) -> str:
    """app_queue's queues.conf for these queues."""
    out = [
        "; Rendered by agi-app from config/queues.yaml.",
        "[general]",
        "persistentmembers=no",
        "shared_lastcall=yes",
        "",
    ]
    for name, q in qf.queues.items():
        out += [
            f"[{name}]",
            f"strategy={q.strategy}",
            f"timeout={q.ring_timeout_s}",
            "retry=1",
            "wrapuptime=0",
            "ringinuse=no",
            "joinempty=no",
            "leavewhenempty=no",
            "setinterfacevar=yes",
            f"maxlen={q.max_callers}",
            f"announce-position={'yes' if q.announce_position else 'no'}",
            # position and estimated wait every 30 s while waiting, when configured
            f"announce-frequency={30 if q.announce_position else 0}",
            f"announce-holdtime={'once' if q.announce_position else 'no'}",
            "periodic-announce-frequency=0",
        ]
        out += [f"member => PJSIP/{m.endpoint},{m.penalty},{m.endpoint}" for m in q.members]
        out.append("")
    return "\n".join(out)
