"""Load shedding: calendar and live-load rules (pure), hysteresis."""
