"""Wage-arrears cases (欠薪): one-point intake, routing, review and supervision."""
