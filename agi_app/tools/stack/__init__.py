"""Bringing up the real parts: Asterisk 22 in a Debian sid root, PostgreSQL 15."""
