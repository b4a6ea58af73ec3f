"""Service: what happens to a call or a job (serve a call, the route-only answer,
callbacks, the report), written against core types and protocols. It imports
core only; adapters are handed in by the entry points."""
