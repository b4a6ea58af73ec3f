"""Application settings, validated at start-up.

Values come from the environment (prefix ``AGI_APP_``) and from the generated
secrets file ``var/secrets.env`` (written by ``make setup``, never committed).
"""

from __future__ import annotations

import re
import socket
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


NODE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,32}")


def _safe_node(hostname: str) -> str:
    """A host name as a node name (invalid characters dropped, cut to 32)."""
    name = re.sub(r"[^A-Za-z0-9_.-]", "", hostname.split(".")[0])[:32]
    return name or "node"


class Settings(BaseSettings):
    """Every tunable of the application; defaults suit a single-machine install."""

    model_config = SettingsConfigDict(
        env_prefix="AGI_APP_",
        env_file=(str(PROJECT_ROOT / "var" / "secrets.env"),),
        extra="ignore",
    )

    # Where things live.
    var_dir: Path = PROJECT_ROOT / "var"
    flows_dir: Path = PROJECT_ROOT / "flows"
    config_dir: Path = PROJECT_ROOT / "config"
    sounds_dir: Path = PROJECT_ROOT / "sounds"
    dialplan_dir: Path = PROJECT_ROOT / "dialplan"
    asterisk_root: Path = Path("/var/cache/agi-app/asterisk-root")
    # This node's own files (pid, journey spool, rejected journeys); default
    # var_dir. On a cluster each node has its own (var/nodes/<node>).
    state_dir: Path | None = None
    # The node's name, recorded in every journey (``calls.node``); default the
    # host name. Letters, digits, '.', '_' and '-', at most 32.
    node: str = Field(default_factory=lambda: _safe_node(socket.gethostname()))

    # A cluster on one machine (agi_app/tools/stack/cluster_layout.py): every
    # node's ports move by this much (a second cluster beside the first).
    cluster_port_shift: int = Field(default=0, ge=0, le=20000)

    # Asterisk.
    bind_address: str = "127.0.0.1"
    sip_port: int = 5060
    http_port: int = 8088
    ami_port: int = 5038
    pstn_port: int = 5090  # the loopback SIP peer callbacks dial through
    rtp_start: int = 20000
    rtp_end: int = 30000
    ari_app: str = "agi-app"
    ari_user: str = "agi_app"
    ari_password: SecretStr = SecretStr("")
    # Asterisk's own CDRs (CSV). Off: the journey in PostgreSQL is the record.
    asterisk_cdr: bool = False
    # stasis.conf: decline the message types nothing here consumes (AMI
    # TestEvent, VarSet, DTMFBegin, RTCP), and Stasis's taskpool sized for
    # 2 cores. Both are read when Asterisk starts.
    asterisk_decline_messages: bool = True
    asterisk_small_pools: bool = False
    # REST requests over the event websocket when Asterisk supports it (22.4+),
    # and a server-side filter so only the event types we use are sent.
    ari_rest_over_ws: bool = True
    ari_event_filter: bool = True
    # Past this many unanswered websocket requests, requests go over HTTP
    # (Asterisk answers one websocket's requests one at a time). With the
    # dialplan answering, no request of a call waits long for its channel's
    # thread (POST answer did); what backs the socket up is Asterisk stalling
    # as a whole, when HTTP is no faster and costs both sides more. At 16, 4 of
    # 6 runs at 100 calls/s sent 19-571 requests over HTTP and the worst had
    # lookup p99 8.9 ms, DTMF to play 1.9; at 64 and 1000 none did, worst 2.7
    # and 0.75 ms (docs/PERF-GAP.md).
    ari_ws_max_waiting: int = Field(default=64, ge=1)
    # The event websocket's client: picows (frames parsed in C, each message
    # handled in the socket's callback) or aiohttp (a reader task).
    ari_ws_client: Literal["picows", "aiohttp"] = "picows"
    # The dialplan answers before Stasis() (dialplan/10-hotline.conf): no POST
    # answer per call. Not while max_calls_per_second is set (the app's own
    # refusals must stay unanswered busy ones).
    ari_answer_in_dialplan: bool = True
    # ChannelVarset in the event filter (five per call, chan_pjsip's RTP QoS at
    # hang-up). Off: the agent's name comes from the channel's channelvars.
    ari_varset_events: bool = False
    # A queue transfer's parameters in the extension it continues to
    # (dialplan/20-queues.conf): one request instead of four variables first.
    ari_queue_in_extension: bool = True
    ami_user: str = "agi_app"
    ami_password: SecretStr = SecretStr("")
    admin_token: SecretStr = SecretStr("")
    # Sound path inside the Asterisk root where sounds_dir is bind-mounted.
    asterisk_sounds_mount: str = "/usr/share/asterisk/sounds/agi_app"

    admin_port: int = 8089
    # Prometheus scrapes GET /metrics: from loopback with no token, unless this is
    # set; then with ``Authorization: Bearer <token>`` from anywhere it can reach.
    metrics_token: SecretStr = SecretStr("")

    # FastAGI.
    agi_host: str = "127.0.0.1"
    agi_port: int = 4573

    # PostgreSQL (private cluster).
    pg_port: int = 55432
    pg_host: str = "127.0.0.1"
    pg_user: str = "agi_app"
    pg_password: SecretStr = SecretStr("")
    pg_database: str = "agi_app"
    # The cluster's folder; default /var/lib/agi-app/<key>/pg (agi_app/tools/stack/postgres.py).
    pg_dir: Path | None = None
    pg_pool_min: int = 2
    pg_pool_max: int = 10
    lookup_deadline_ms: int = 150
    # Complaint risk: the score is always computed and recorded; with this off,
    # routing never treats a caller as at risk (QA of grade order and shedding
    # with callers whose test calls pile up a history).
    risk_routing: bool = True
    # The customer and the complaint-risk history in one query, one round trip
    # (AGI_APP_LOOKUP_JOINT=0: two queries at once; a late history then costs
    # the score but never the customer).
    lookup_joint: bool = True
    # Journeys while PostgreSQL is away or slower than the deadline: a spool on
    # local disk (default var/spool/journeys), replayed when it is back and at start.
    journey_spool_dir: Path | None = None
    journey_spool_max_bytes: int = Field(default=1_000_000_000, ge=0)
    journey_write_deadline_ms: int = Field(default=2000, ge=1)
    # Journeys are kept in daily partitions (migrations/0009): created this many
    # days ahead, and those older than the retention dropped (0: kept forever).
    journey_partitions_ahead: int = Field(default=7, ge=1, le=90)
    journey_retention_days: int = Field(default=400, ge=0)
    # CRM import: files over either limit are refused before anything is written.
    import_max_bytes: int = 200_000_000
    import_max_rows: int = 2_000_000

    # The event loop: uvloop when installed (AGI_APP_UVLOOP=0: asyncio's own).
    uvloop: bool = True
    # orjson for ARI's JSON (AGI_APP_ORJSON=0: the standard library's json).
    orjson: bool = True
    # The cyclic garbage collector: what exists once the app is built is frozen
    # (never scanned again) and the youngest generation is collected every
    # gc_gen0 container allocations instead of Python's 700 (AGI_APP_GC_TUNE=0:
    # Python's defaults). Calls make short-lived objects, mostly freed by
    # reference counting; the scans of the long-lived heap were ~9 % of the CPU.
    gc_tune: bool = True
    gc_gen0: int = Field(default=20_000, ge=100)
    # Real-time (SCHED_RR) priority 1-99 for the app's threads, 0 = normal. On a
    # box shared with Asterisk's hundreds of media threads this keeps prompt and
    # lookup latency low; needs root or CAP_SYS_NICE (else a warning, no change).
    realtime_priority: int = Field(default=1, ge=0, le=99)
    # The same for the lookup's PostgreSQL sessions when PostgreSQL runs on this
    # host (only a backend shown to be the session's own; a remote server keeps
    # its priority): a woken backend no longer waits behind Asterisk for a core
    # (lookup p99 at 100 calls/s 2.5-3.3 ms -> 1.5-1.7). 0 = leave them.
    pg_lookup_realtime_priority: int = Field(default=1, ge=0, le=99)

    # One INFO line per call (caller, grade, lookup, shedding level); off: DEBUG.
    # At a 10086's volume the journeys and the console are the record, and the
    # line is ~4 % of the app's CPU (AGI_APP_LOG_CALLS=1 turns it on).
    log_calls: bool = False

    # Calls.
    max_concurrent_calls: int = 400
    max_calls_per_second: float = 0.0  # 0 = no rate limit
    # Calls one source address may hold at once, refused in the dialplan past
    # that (0 = no limit: behind a proxy every call comes from one address).
    max_calls_per_source: int = Field(default=0, ge=0)
    # Graceful stop (SIGTERM): calls in a flow get this long to finish; then the
    # dialplan's static menu takes them (new calls go there at once).
    drain_s: float = Field(default=10.0, ge=0)
    timezone: str = "Asia/Shanghai"
    # QA business clock: ISO datetime the app pretends it is (see README).
    business_clock: str | None = Field(default=None)

    @property
    def pg_dsn(self) -> str:
        pw = self.pg_password.get_secret_value()
        return f"postgresql://{self.pg_user}:{pw}@{self.pg_host}:{self.pg_port}/{self.pg_database}"

    @field_validator("node")
    @classmethod
    def _node_name(cls, value: str) -> str:
        if not NODE_NAME.fullmatch(value):
            raise ValueError("node: 1-32 letters, digits, '.', '_' or '-'")
        return value

    @property
    def node_dir(self) -> Path:
        """Where this node's own files go (see ``state_dir``)."""
        return self.state_dir or self.var_dir

    @property
    def journey_spool(self) -> Path:
        return self.journey_spool_dir or self.node_dir / "spool" / "journeys"

    @property
    def ari_base(self) -> str:
        return f"http://{self.bind_address}:{self.http_port}/ari"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
