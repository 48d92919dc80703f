-- The handled-services counts now come from the event log (a projection with its own position),
-- no longer from a JetStream consumer: start empty so the projection counts every event once.
TRUNCATE handled_services;
