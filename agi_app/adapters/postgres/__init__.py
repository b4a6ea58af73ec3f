"""PostgreSQL: the pool, migrations, the journey writer, stores and queries."""
