"""surgewatch: the contract between stages (config, topics, records, metrics, dead letters, CLI)."""
