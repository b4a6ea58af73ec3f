"""The one-machine cluster's pure parts: port layout, dispatcher list, Kamailio's
view of the nodes, and the trunk's QUEUESTATUS <-> cause tables in the dialplan."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

from agi_app.adapters.kamailio.dispatcher import parse_list
from agi_app.settings import PROJECT_ROOT, Settings
from agi_app.tools.stack.cluster_layout import app_env, layout, queue_node
from agi_app.tools.stack.kamailio import dispatcher_list

KAMCMD_LIST = """{
\tNRSETS: 1
\tRECORDS: {
\t\tSET: {
\t\t\tID: 1
\t\t\tTARGETS: {
\t\t\t\tDEST: {
\t\t\t\t\tURI: sip:127.0.0.1:5182
\t\t\t\t\tFLAGS: IP
\t\t\t\t\tPRIORITY: 0
\t\t\t\t\tATTRS: {
\t\t\t\t\t\tBODY: duid=ivr2;maxload=400
\t\t\t\t\t\tDUID: ivr2
\t\t\t\t\t\tMAXLOAD: 400
\t\t\t\t\t}
\t\t\t\t\tRUNTIME: {
\t\t\t\t\t\tDLGLOAD: 0
\t\t\t\t\t}
\t\t\t\t}
\t\t\t\tDEST: {
\t\t\t\t\tURI: sip:127.0.0.1:5181
\t\t\t\t\tFLAGS: AX
\t\t\t\t\tATTRS: {
\t\t\t\t\t\tDUID: ivr1
\t\t\t\t\t\tMAXLOAD: 400
\t\t\t\t\t}
\t\t\t\t\tRUNTIME: {
\t\t\t\t\t\tDLGLOAD: 7
\t\t\t\t\t}
\t\t\t\t}
\t\t\t}
\t\t}
\t}
}
"""


def settings(shift: int = 0) -> Settings:
    return Settings(_env_file=None, cluster_port_shift=shift)


def test_layout_gives_every_node_its_own_ports() -> None:
    nodes = layout(settings(), 3)
    assert [n.name for n in nodes] == ["queue", "ivr1", "ivr2", "ivr3"]
    for attr in ("sip_port", "http_port", "ami_port"):
        values = [getattr(n, attr) for n in nodes]
        assert len(set(values)) == len(values), attr
    ranges = sorted((n.rtp_start, n.rtp_end) for n in nodes)
    assert all(a[1] < b[0] for a, b in itertools.pairwise(ranges))
    assert all(n.rtp_start % 2 == 0 and n.rtp_end - n.rtp_start > 100 for n in nodes)
    assert all(n.admin_port and n.agi_port for n in nodes if n.is_ivr)


def test_layout_shift_and_bounds() -> None:
    assert layout(settings(1000), 1)[1].sip_port == 6181
    with pytest.raises(ValueError, match="--nodes"):
        layout(settings(), 0)


def test_an_ivr_app_talks_to_its_own_asterisk_and_the_queue_nodes_ami() -> None:
    nodes = layout(settings(), 2)
    env = app_env(settings(), nodes[2], queue_node(nodes))
    assert env["AGI_APP_NODE"] == "ivr2"
    assert env["AGI_APP_HTTP_PORT"] == str(nodes[2].http_port)
    assert env["AGI_APP_AMI_PORT"] == str(queue_node(nodes).ami_port)
    assert env["AGI_APP_STATE_DIR"].endswith("cluster/ivr2")


def test_dispatcher_list_names_each_ivr_node_with_its_cap() -> None:
    text = dispatcher_list(layout(settings(), 2), "127.0.0.1", 250)
    lines = [ln for ln in text.splitlines() if not ln.startswith("#")]
    assert lines == [
        "1 sip:127.0.0.1:5181 0 0 duid=ivr1;maxload=250",
        "1 sip:127.0.0.1:5182 0 0 duid=ivr2;maxload=250",
    ]


def test_kamcmd_list_parsed() -> None:
    dests = {d.node: d for d in parse_list(KAMCMD_LIST)}
    assert dests["ivr1"].state == "active" and dests["ivr1"].load == 7
    assert dests["ivr2"].state == "inactive" and dests["ivr2"].probing
    assert dests["ivr2"].uri == "sip:127.0.0.1:5182" and dests["ivr2"].maxload == 400
    assert parse_list("garbage\n{\n") == []


def _table(context: str) -> dict[str, str]:
    text = (PROJECT_ROOT / "dialplan" / "25-enqueue.conf").read_text()
    body = text.split(f"\n[{context}]\n", 1)[1].split("\n[", 1)[0]
    return dict(re.findall(r"exten => ([^,]+),1,Return\(([^)]*)\)", body))


def test_trunk_cause_tables_agree() -> None:
    """What the queue node refuses with decodes to the same QUEUESTATUS on the IVR node."""
    encode = _table("hotline-qs-cause")
    decode = _table("hotline-cause-qs")
    statuses = [k for k in encode if not k.startswith("_")]
    assert set(statuses) == {
        "TIMEOUT",
        "FULL",
        "JOINEMPTY",
        "LEAVEEMPTY",
        "JOINUNAVAIL",
        "LEAVEUNAVAIL",
    }
    for status in statuses:
        assert decode[encode[status]] == status
    causes = [encode[s] for s in statuses]
    assert len(set(causes)) == len(causes)
    assert decode["_X!"] == "CHANUNAVAIL" and encode["_[A-Z]!"] not in decode


def test_kamailio_template_renders(tmp_path: Path) -> None:
    from string import Template

    from agi_app.tools.stack.kamailio import TEMPLATE

    text = Template(TEMPLATE.read_text()).substitute(
        children=2,
        bind_address="127.0.0.1",
        sip_port=5060,
        module_path="/m/",
        run_dir=tmp_path,
        fr_timer_ms=1000,
        ping_interval_s=2,
        retry_after_s=5,
    )
    assert "listen=udp:127.0.0.1:5060" in text and "$rU" in text and "${" not in text
