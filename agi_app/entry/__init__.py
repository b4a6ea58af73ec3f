"""Entry points: the `run` process (build every component, then start them), the
admin HTTP endpoint, the CLI. Wiring builds; it holds no business logic."""
