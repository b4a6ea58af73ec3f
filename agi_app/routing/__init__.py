"""Grades, queues and routing: configuration as data, decisions as pure functions."""
