-- The analytics figures of settled days (agi-app analytics), kept so that a
-- month is read rather than recomputed: one row per report, time zone and day.
CREATE TABLE analytics_days (
    report       text NOT NULL,
    tz           text NOT NULL,
    day          date NOT NULL,
    rows         jsonb NOT NULL,
    computed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (report, tz, day)
);
