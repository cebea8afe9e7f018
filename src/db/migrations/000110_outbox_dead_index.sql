-- Dead outbox rows, counted by target on every metrics scrape: a small partial index, so the
-- count reads only the dead rows, never every delivered notification.
CREATE INDEX outbox_dead ON outbox (topic) WHERE status = 'dead';
