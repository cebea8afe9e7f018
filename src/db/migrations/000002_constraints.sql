-- Trading limits: one global row (resource IS NULL) and optional per-resource overrides.
CREATE TABLE constraints (
  resource     text REFERENCES resources (name),
  max_transfer numeric(30, 6) CHECK (max_transfer > 0),
  min_balance  numeric(30, 6) CHECK (min_balance >= 0)
);
CREATE UNIQUE INDEX constraints_scope ON constraints ((coalesce(resource, '')));
INSERT INTO constraints (resource, max_transfer, min_balance) VALUES (NULL, NULL, 0);
