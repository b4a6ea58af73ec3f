"""Grades, queues and routing: policy as data, and the pure route decision."""
