"""How requests and messages reach the injury service's use cases."""
