"""HTTP routes, one module per service plus health and operations."""
