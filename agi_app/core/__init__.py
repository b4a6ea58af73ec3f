"""Core: the domain's types and pure rules. No network, database, process or
asyncio stream here; configuration files are parsed from paths handed in.
Everything else imports core; core imports nothing of the package above it."""
