-- What an experiment has paid its model providers, over every attempt of every episode on every
-- machine: an episode's own cost_usd starts again with each attempt, this never goes back. Each
-- model call reserves its estimated price here before it is made (refused when the reservation
-- would pass the budget) and settles the difference once its tokens are known, so --max-cost stops
-- work at the call. Written by the owning login, as the rest of the experiment's record.
CREATE TABLE experiment_spend (
  experiment_id uuid PRIMARY KEY REFERENCES experiments (id),
  spent_usd numeric NOT NULL DEFAULT 0 CHECK (spent_usd >= 0),
  calls bigint NOT NULL DEFAULT 0 CHECK (calls >= 0),
  refused bigint NOT NULL DEFAULT 0 CHECK (refused >= 0)
);
