"""Shared plumbing for yiwang processes: event store, outbox, inbox, NATS, deadlines, tracing.

It imports no service, no gateway and no contracts: it is generic over message types.
"""
