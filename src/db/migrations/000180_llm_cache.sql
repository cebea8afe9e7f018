-- Model answers, kept so that a run driven by a language model can be run again without asking
-- the model: the key is a SHA-256 of everything that decides an answer (provider, base URL,
-- model, generation settings, the full messages, the response schema, the call's seed), so a
-- different model or prompt is a different key. Experiment workers on several machines share
-- it through the database that holds the experiment's record. Writes go through the two
-- functions below; `last_used_at` is what `gridgov cache prune --older-than` goes by.
CREATE TABLE llm_cache (
  key text PRIMARY KEY CHECK (key ~ '^[0-9a-f]{64}$'),
  provider text NOT NULL,
  base_url text NOT NULL,
  model text NOT NULL,
  schema_name text NOT NULL,
  answer text NOT NULL,
  prompt_tokens integer NOT NULL CHECK (prompt_tokens >= 0),
  completion_tokens integer NOT NULL CHECK (completion_tokens >= 0),
  total_tokens integer NOT NULL CHECK (total_tokens >= 0),
  hits bigint NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX llm_cache_last_used ON llm_cache (last_used_at);

-- A lookup that counts as a use: the hit and its time are recorded in the same statement.
CREATE FUNCTION llm_cache_get(p_key text)
RETURNS TABLE (answer text, prompt_tokens integer, completion_tokens integer, total_tokens integer)
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
  UPDATE public.llm_cache c SET hits = c.hits + 1, last_used_at = now()
   WHERE c.key = p_key
  RETURNING c.answer, c.prompt_tokens, c.completion_tokens, c.total_tokens
$$;

-- The first answer stored under a key stays: two workers that asked at once keep one answer.
CREATE FUNCTION llm_cache_put(
  p_key text, p_provider text, p_base_url text, p_model text, p_schema_name text,
  p_answer text, p_prompt_tokens integer, p_completion_tokens integer, p_total_tokens integer
) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
  INSERT INTO public.llm_cache (key, provider, base_url, model, schema_name, answer, prompt_tokens, completion_tokens, total_tokens)
  VALUES (p_key, p_provider, p_base_url, p_model, p_schema_name, p_answer, p_prompt_tokens, p_completion_tokens, p_total_tokens)
  ON CONFLICT (key) DO NOTHING
$$;

DO $$
BEGIN
  REVOKE EXECUTE ON FUNCTION llm_cache_get(text) FROM PUBLIC;
  REVOKE EXECUTE ON FUNCTION llm_cache_put(text, text, text, text, text, text, integer, integer, integer) FROM PUBLIC;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'gridgov_app') THEN
    GRANT EXECUTE ON FUNCTION llm_cache_get(text) TO gridgov_app;
    GRANT EXECUTE ON FUNCTION llm_cache_put(text, text, text, text, text, text, integer, integer, integer) TO gridgov_app;
  END IF;
END
$$;
