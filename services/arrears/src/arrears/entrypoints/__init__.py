"""How requests reach the wage-arrears service."""
