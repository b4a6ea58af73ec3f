"""Journey analytics: Erlang C and the report shapes (pure)."""
