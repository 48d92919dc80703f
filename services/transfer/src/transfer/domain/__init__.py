"""The transfer domain: plain Python, no I/O."""
