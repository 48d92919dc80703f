"""The one-network gateway (一网通办): one HTTP API for apps, hospitals and operators."""
