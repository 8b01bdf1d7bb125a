"""Sinks: consume records from the stages, produce writes to the systems outside (Elasticsearch, alert receivers).
A sink imports only the contract (streams); stages import sinks, never the other way round."""
