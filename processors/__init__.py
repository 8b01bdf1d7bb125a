"""surgewatch processing stages: enrich → index, enrich → spikes."""
