-- Complaint risk: the score computed at call start and its top reasons.
ALTER TABLE calls ADD COLUMN risk real;
ALTER TABLE calls ADD COLUMN risk_reasons text[];
-- The risk query counts a caller's failed callbacks of the last 7 days.
CREATE INDEX callbacks_number ON callbacks (number, requested_at);
