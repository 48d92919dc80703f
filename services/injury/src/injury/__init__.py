"""Work-injury networked settlement (工伤联网结算): hospitals post, the fund pays, nothing twice."""
