"""Inter-province pension transfer (转移接续): commands, cross-region messages, public events."""
