"""How the transfer service is reached: NATS requests, its inbox from other regions, the history feed."""
