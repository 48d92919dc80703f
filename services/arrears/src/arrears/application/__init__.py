"""Use cases of the wage-arrears service: one async handler per command."""
