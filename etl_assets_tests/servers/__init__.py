"""Real servers the integration tests start on 127.0.0.1 (free ports, stopped in teardown)."""
