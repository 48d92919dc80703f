"""How the enrolment service is reached: NATS requests and subscriptions."""
