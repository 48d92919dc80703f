"""The arrears domain: plain Python, no I/O."""
