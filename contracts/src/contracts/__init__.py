"""The public language between yiwang processes: envelopes, commands, events, subjects, identifiers.

Depends on pydantic only; the gateway and every service import it, it imports none of them.
"""
