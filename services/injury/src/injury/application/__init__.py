"""Use cases of the injury service, one async handler per command."""
