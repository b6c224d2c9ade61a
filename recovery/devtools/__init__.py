"""Developer tools: the demo's seed data and chain, and the supervisor of the local processes. Never imported
by the running service's code paths."""
