-- Agent keys: an API key bound to one actor. Such a key may only propose legs that debit its own
-- actor; the other roles carry no actor.
ALTER TABLE api_keys ADD COLUMN actor_id uuid REFERENCES actors (id);
ALTER TABLE api_keys DROP CONSTRAINT api_keys_role_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_role_check CHECK (role IN ('viewer', 'operator', 'admin', 'system', 'agent'));
ALTER TABLE api_keys ADD CONSTRAINT api_keys_agent_actor CHECK ((role = 'agent') = (actor_id IS NOT NULL));
