-- Provider limits shared by every process that calls a model through this database: experiment
-- workers on several machines (`--join`), runners, `gridgov start`. A provider is keyed by its
-- name and base URL. Concurrency is a set of leased slots (a holder that dies frees its slot when
-- the lease runs out); requests and tokens per minute are counted per calendar minute.
CREATE TABLE llm_limit_slots (
  limit_key text NOT NULL,
  slot integer NOT NULL CHECK (slot >= 1),
  holder text NOT NULL,
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (limit_key, slot)
);

CREATE TABLE llm_limit_minutes (
  limit_key text NOT NULL,
  minute timestamptz NOT NULL,
  requests integer NOT NULL DEFAULT 0 CHECK (requests >= 0),
  tokens bigint NOT NULL DEFAULT 0 CHECK (tokens >= 0),
  PRIMARY KEY (limit_key, minute)
);

-- One slot of at most p_max for p_holder, leased for p_lease_ms; null when all are held.
CREATE FUNCTION llm_slot_acquire(p_key text, p_max integer, p_holder text, p_lease_ms integer) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
  free integer;
BEGIN
  IF p_max IS NULL OR p_max < 1 OR p_lease_ms IS NULL OR p_lease_ms < 1 THEN
    RAISE EXCEPTION 'llm_slot_acquire: p_max and p_lease_ms must be at least 1' USING ERRCODE = '22023';
  END IF;
  -- Callers of one provider take turns here, so two never see the same slot free.
  PERFORM pg_advisory_xact_lock(hashtextextended('gridgov.llm_limit:' || p_key, 0));
  DELETE FROM public.llm_limit_slots WHERE limit_key = p_key AND expires_at < clock_timestamp();
  SELECT min(s) INTO free FROM generate_series(1, p_max) s
   WHERE NOT EXISTS (SELECT 1 FROM public.llm_limit_slots l WHERE l.limit_key = p_key AND l.slot = s);
  IF free IS NULL THEN
    RETURN NULL;
  END IF;
  INSERT INTO public.llm_limit_slots (limit_key, slot, holder, expires_at)
  VALUES (p_key, free, p_holder, clock_timestamp() + make_interval(secs => p_lease_ms / 1000.0));
  RETURN free;
END
$$;

CREATE FUNCTION llm_slot_release(p_key text, p_slot integer, p_holder text) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
  DELETE FROM public.llm_limit_slots WHERE limit_key = p_key AND slot = p_slot AND holder = p_holder
$$;

-- Counts one request of p_tokens (an estimate) in the current minute when both per-minute limits
-- allow it (a null limit is no limit) and returns 0; else counts nothing and returns the
-- milliseconds until the next minute.
CREATE FUNCTION llm_rate_reserve(p_key text, p_rpm integer, p_tpm bigint, p_tokens bigint) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
  now_at timestamptz := clock_timestamp();
  this_minute timestamptz := date_trunc('minute', now_at);
  used public.llm_limit_minutes;
BEGIN
  INSERT INTO public.llm_limit_minutes (limit_key, minute) VALUES (p_key, this_minute) ON CONFLICT DO NOTHING;
  SELECT * INTO used FROM public.llm_limit_minutes WHERE limit_key = p_key AND minute = this_minute FOR UPDATE;
  -- A request larger than the whole per-minute budget still goes, alone in its minute.
  IF (p_rpm IS NOT NULL AND used.requests + 1 > p_rpm)
     OR (p_tpm IS NOT NULL AND used.requests > 0 AND used.tokens + p_tokens > p_tpm) THEN
    RETURN greatest(1, ceil(extract(epoch FROM (this_minute + interval '1 minute' - now_at)) * 1000))::integer;
  END IF;
  UPDATE public.llm_limit_minutes SET requests = requests + 1, tokens = tokens + greatest(0, p_tokens)
   WHERE limit_key = p_key AND minute = this_minute;
  DELETE FROM public.llm_limit_minutes WHERE limit_key = p_key AND minute < this_minute - interval '1 hour';
  RETURN 0;
END
$$;

-- The tokens a call used beyond its estimate (or fewer, negative), counted in the current minute.
CREATE FUNCTION llm_rate_settle(p_key text, p_extra_tokens bigint) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
  INSERT INTO public.llm_limit_minutes AS m (limit_key, minute, tokens)
  VALUES (p_key, date_trunc('minute', clock_timestamp()), greatest(0, p_extra_tokens))
  ON CONFLICT (limit_key, minute) DO UPDATE SET tokens = greatest(0, m.tokens + p_extra_tokens)
$$;

DO $$
BEGIN
  REVOKE EXECUTE ON FUNCTION llm_slot_acquire(text, integer, text, integer), llm_slot_release(text, integer, text),
    llm_rate_reserve(text, integer, bigint, bigint), llm_rate_settle(text, bigint) FROM PUBLIC;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'gridgov_app') THEN
    GRANT EXECUTE ON FUNCTION llm_slot_acquire(text, integer, text, integer), llm_slot_release(text, integer, text),
      llm_rate_reserve(text, integer, bigint, bigint), llm_rate_settle(text, bigint) TO gridgov_app;
  END IF;
END
$$;
