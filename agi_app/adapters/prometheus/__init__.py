"""Prometheus: the hotline's figures in the text exposition format."""
