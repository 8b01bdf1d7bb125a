"""Alert delivery sink: consumes Alert records, produces notifications -- one alerter per module (alertmanager,
webhook) over shared HTTP retries, the pure mapping (mapping) apart from the I/O, and the forwarder loop."""
