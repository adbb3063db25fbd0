"""Record and replay: per-case cassettes, the transport, the network guard, interception, redaction."""
