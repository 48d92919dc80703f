"""The injury domain: plain Python, no I/O."""
