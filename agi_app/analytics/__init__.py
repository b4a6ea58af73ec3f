"""Journeys as figures: funnel, paths, repeat calls, staffing (issue 17)."""
