"""Contracts of the wage-arrears service (欠薪): commands, queries and public events."""
