"""Load shedding: month-start/month-end calendar and live queue load."""
