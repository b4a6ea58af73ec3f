"""PostgreSQL access: pool, migrations, journey writer."""
