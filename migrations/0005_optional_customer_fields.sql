-- Real CRM exports leave optional fields empty: no language means the hotline's
-- default, no bill day means no bill-day load shedding for that customer.
ALTER TABLE customers ALTER COLUMN language DROP NOT NULL;
ALTER TABLE customers ALTER COLUMN language DROP DEFAULT;
ALTER TABLE customers ALTER COLUMN bill_day DROP NOT NULL;
ALTER TABLE customers ALTER COLUMN bill_day DROP DEFAULT;
