"""Tools, apart from the runtime path: stack set-up, bench, QA runner, demo data.
Nothing in the running hotline (entry.runtime, entry.wiring) imports them."""
