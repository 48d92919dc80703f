"""Work-injury networked settlement (工伤联网结算): commands, queries, public events."""
