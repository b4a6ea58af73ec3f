"""Kamailio, the SIP proxy in front of a cluster's IVR nodes (its dispatcher)."""
