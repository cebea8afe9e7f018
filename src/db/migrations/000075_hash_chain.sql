-- The hash chain (000012) is sealed and checked by the database: the application role may ask
-- for a seal or a re-check, but cannot write a block or the tamper flag (chain_state.broken)
-- itself. The layout is the one src/ledger/chain.ts documents:
--   row digest  SHA-256 of the row's columns, '|'-separated (ledger_row_digest below)
--   content     SHA-256 of the block's row digests in id order
--   block hash  SHA-256(previous hash ‖ first id (int8, big-endian) ‖ last id (int8) ‖ row count (int4) ‖ content),
--               from 32 zero bytes.

CREATE FUNCTION ledger_row_digest(l ledger) RETURNS bytea LANGUAGE sql STABLE AS $$
  SELECT sha256(convert_to(concat_ws('|', l.id, l.proposal_id, l.leg, l.kind, l.actor_from, l.actor_to,
    l.resource, l.amount, to_char(l.executed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'), length(l.validator_version),
    l.validator_version, l.metadata), 'UTF8'))
$$;

CREATE FUNCTION chain_block_hash(p_prev bytea, p_first bigint, p_last bigint, p_rows integer, p_content bytea) RETURNS bytea
LANGUAGE sql IMMUTABLE AS $$
  SELECT sha256(p_prev || int8send(p_first) || int8send(p_last) || int4send(p_rows) || p_content)
$$;

-- Seals the ledger rows after the last block, up to p_through (which must be settled: see
-- src/ledger/fence.ts), at most p_max_rows of them, into blocks of p_block_size rows. No row when
-- p_wait is false and another sealer holds the lock.
CREATE FUNCTION chain_seal(p_through bigint, p_block_size integer, p_max_rows integer, p_wait boolean)
RETURNS TABLE (blocks integer, sealed_rows integer, sealed_through bigint, more boolean)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  through bigint;
  head record;
  prev bytea;
  prev_last bigint;
  block bigint;
  total integer := 0;
  made integer := 0;
  groups integer;
  has_more boolean;
  g record;
  block_last bigint;
  h bytea;
BEGIN
  IF p_block_size IS NULL OR p_block_size < 1 OR p_max_rows IS NULL OR p_max_rows < 1 THEN
    RAISE EXCEPTION 'block size and row budget must be at least 1' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF p_wait THEN
    PERFORM pg_advisory_xact_lock(4711000011);
  ELSIF NOT pg_try_advisory_xact_lock(4711000011) THEN
    RETURN;
  END IF;
  through := least(p_through, coalesce(pg_sequence_last_value('ledger_id_seq'::regclass), 0));
  SELECT b.block_no, b.last_id, b.hash INTO head FROM ledger_blocks b ORDER BY b.block_no DESC LIMIT 1;
  prev_last := coalesce(head.last_id, 0);
  prev := coalesce(head.hash, decode(repeat('00', 32), 'hex'));
  block := coalesce(head.block_no, 0);
  IF through IS NULL OR through <= prev_last THEN
    RETURN QUERY SELECT 0, 0, prev_last, false;
    RETURN;
  END IF;
  SELECT count(*) INTO total FROM (SELECT 1 FROM ledger l WHERE l.id > prev_last AND l.id <= through ORDER BY l.id LIMIT p_max_rows) AS r;
  IF total = 0 THEN
    RETURN QUERY SELECT 0, 0, prev_last, false;
    RETURN;
  END IF;
  has_more := total >= p_max_rows;
  groups := (total + p_block_size - 1) / p_block_size;
  FOR g IN
    WITH r AS (
      SELECT l.id, ledger_row_digest(l) AS d FROM ledger l WHERE l.id > prev_last AND l.id <= through ORDER BY l.id LIMIT p_max_rows
    ), numbered AS (SELECT r.id, r.d, (row_number() OVER (ORDER BY r.id) - 1) / p_block_size AS k FROM r)
    SELECT n.k, max(n.id) AS last_id, count(*)::integer AS row_count, array_agg(n.id ORDER BY n.id) AS row_ids,
           string_agg(substring(n.d FROM 1 FOR 8), ''::bytea ORDER BY n.id) AS fingerprints,
           sha256(string_agg(n.d, ''::bytea ORDER BY n.id)) AS content
      FROM numbered n GROUP BY n.k ORDER BY n.k
  LOOP
    -- The last block of a run that reached p_through extends to it, over ids that never committed.
    block_last := CASE WHEN g.k = groups - 1 AND NOT has_more THEN through ELSE g.last_id END;
    block := block + 1;
    h := chain_block_hash(prev, prev_last + 1, block_last, g.row_count, g.content);
    INSERT INTO ledger_blocks (block_no, first_id, last_id, row_count, row_ids, row_fingerprints, content_hash, prev_hash, hash)
    VALUES (block, prev_last + 1, block_last, g.row_count, g.row_ids, g.fingerprints, g.content, prev, h);
    prev := h;
    prev_last := block_last;
    made := made + 1;
  END LOOP;
  RETURN QUERY SELECT made, total, prev_last, has_more;
END
$$;

-- Re-hashes blocks p_from..p_to from the ledger and checks each link, stopping at the first break.
-- Returns {blocks, rows, last_block, last_hash, break}; break names the block, the kind (modified,
-- deleted, inserted, content, block, link), the ledger row where one can be named, and a message.
CREATE FUNCTION chain_check(p_from bigint, p_to bigint) RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = public, pg_temp AS $$
DECLARE
  prior record;
  prev_hash bytea;
  prev_last bigint;
  prev_no bigint := p_from - 1;
  checked integer := 0;
  checked_rows bigint := 0;
  last_hash text;
  stray bigint;
  b record;
  m record;
  brk jsonb;
BEGIN
  SELECT x.block_no, x.last_id, x.hash INTO prior FROM ledger_blocks x WHERE x.block_no = p_from - 1;
  prev_hash := coalesce(prior.hash, decode(repeat('00', 32), 'hex'));
  prev_last := coalesce(prior.last_id, 0);
  last_hash := encode(prior.hash, 'hex');
  IF p_from > 1 AND prior.block_no IS NULL THEN
    brk := jsonb_build_object('block_no', p_from - 1, 'kind', 'link', 'message', format('block %s is missing', p_from - 1));
  ELSIF p_from = 1 THEN
    SELECT l.id INTO stray FROM ledger l WHERE l.id < 1 ORDER BY l.id LIMIT 1;
    IF stray IS NOT NULL THEN
      brk := jsonb_build_object('block_no', 1, 'kind', 'inserted', 'ledger_id', stray, 'message', format('ledger row %s lies below the first block: ids start at 1', stray));
    END IF;
  END IF;
  IF brk IS NULL THEN
    FOR b IN
      SELECT x.*, c.content FROM ledger_blocks x
        LEFT JOIN LATERAL (
          SELECT sha256(string_agg(r.d, ''::bytea ORDER BY r.id)) AS content
            FROM (SELECT l.id, ledger_row_digest(l) AS d FROM ledger l WHERE l.id BETWEEN x.first_id AND x.last_id) AS r
        ) c ON true
       WHERE x.block_no BETWEEN p_from AND p_to ORDER BY x.block_no
    LOOP
      IF b.block_no <> prev_no + 1 THEN
        brk := jsonb_build_object('block_no', prev_no + 1, 'kind', 'link', 'message', format('block %s is missing: block %s follows block %s', prev_no + 1, b.block_no, prev_no));
      ELSIF b.first_id <> prev_last + 1 THEN
        brk := jsonb_build_object('block_no', b.block_no, 'kind', 'link', 'message', format('block %s starts at id %s, not %s', b.block_no, b.first_id, prev_last + 1));
      ELSIF b.prev_hash <> prev_hash THEN
        brk := jsonb_build_object('block_no', b.block_no, 'kind', 'link', 'message', format('block %s does not chain to block %s', b.block_no, prev_no));
      ELSIF chain_block_hash(b.prev_hash, b.first_id, b.last_id, b.row_count, b.content_hash) <> b.hash
         OR coalesce(cardinality(b.row_ids), 0) <> b.row_count OR length(b.row_fingerprints) <> b.row_count * 8 THEN
        brk := jsonb_build_object('block_no', b.block_no, 'kind', 'block', 'message', format('block %s was rewritten: its hash does not match its contents', b.block_no));
      ELSIF b.content IS NULL OR b.content <> b.content_hash THEN
        -- The lowest id where the sealed list and the ledger disagree.
        SELECT s.id AS sealed, a.id AS actual INTO m
          FROM (SELECT u.id, substring(b.row_fingerprints FROM ((u.i - 1) * 8 + 1)::integer FOR 8) AS fp
                  FROM unnest(b.row_ids) WITH ORDINALITY AS u(id, i)) s
          FULL JOIN (SELECT l.id, substring(ledger_row_digest(l) FROM 1 FOR 8) AS fp
                       FROM ledger l WHERE l.id BETWEEN b.first_id AND b.last_id) a ON a.id = s.id
         WHERE s.id IS NULL OR a.id IS NULL OR s.fp <> a.fp
         ORDER BY coalesce(s.id, a.id) LIMIT 1;
        brk := CASE
          WHEN m IS NULL OR (m.sealed IS NULL AND m.actual IS NULL) THEN jsonb_build_object('block_no', b.block_no, 'kind', 'content',
            'message', format('the rows of block %s (ids %s-%s) no longer hash to the sealed value', b.block_no, b.first_id, b.last_id))
          WHEN m.actual IS NULL THEN jsonb_build_object('block_no', b.block_no, 'kind', 'deleted', 'ledger_id', m.sealed,
            'message', format('ledger row %s was sealed in block %s and is gone', m.sealed, b.block_no))
          WHEN m.sealed IS NULL THEN jsonb_build_object('block_no', b.block_no, 'kind', 'inserted', 'ledger_id', m.actual,
            'message', format('ledger row %s is inside block %s (ids %s-%s) but was not there when it was sealed', m.actual, b.block_no, b.first_id, b.last_id))
          ELSE jsonb_build_object('block_no', b.block_no, 'kind', 'modified', 'ledger_id', m.sealed,
            'message', format('ledger row %s in block %s was modified after it was sealed', m.sealed, b.block_no))
        END;
      END IF;
      EXIT WHEN brk IS NOT NULL;
      checked := checked + 1;
      checked_rows := checked_rows + b.row_count;
      prev_no := b.block_no;
      prev_last := b.last_id;
      prev_hash := b.hash;
      last_hash := encode(b.hash, 'hex');
    END LOOP;
  END IF;
  RETURN jsonb_build_object('blocks', checked, 'rows', checked_rows, 'last_block', prev_no, 'last_hash', last_hash, 'break', brk);
END
$$;

-- The last block of a run from p_from that stays within about p_max_rows rows (at least one).
CREATE FUNCTION chain_run_end(p_from bigint, p_max_rows bigint) RETURNS bigint LANGUAGE sql STABLE AS $$
  SELECT max(s.block_no) FROM (
    SELECT run.block_no, sum(run.row_count) OVER (ORDER BY run.block_no) - run.row_count AS before
      FROM (SELECT x.block_no, x.row_count FROM ledger_blocks x WHERE x.block_no >= p_from ORDER BY x.block_no LIMIT 100000) AS run
  ) AS s WHERE s.before < greatest(1, p_max_rows)
$$;

-- Records what a check of blocks p_from..p_to found (p_check as chain_check returns it): a break
-- is kept until a later check of that block passes, and the lowest break is the one reported.
-- Only definer functions and the owner (gridgov verify) run it.
CREATE FUNCTION chain_record(p_from bigint, p_to bigint, p_check jsonb, p_next bigint, p_pass_complete boolean) RETURNS void
LANGUAGE plpgsql SET search_path = public, pg_temp AS $$
DECLARE
  was jsonb;
  now_broken jsonb;
  seen jsonb := nullif(p_check->'break', 'null'::jsonb);
  checked_through bigint;
  changed boolean;
BEGIN
  SELECT s.broken INTO was FROM chain_state s WHERE s.id = 1 FOR UPDATE;
  now_broken := was;
  checked_through := CASE WHEN seen IS NOT NULL THEN (seen->>'block_no')::bigint - 1 ELSE p_to END;
  IF now_broken IS NOT NULL AND (now_broken->>'block_no')::bigint BETWEEN p_from AND checked_through THEN
    now_broken := NULL;
  END IF;
  IF seen IS NOT NULL AND (now_broken IS NULL OR (seen->>'block_no')::bigint <= (now_broken->>'block_no')::bigint) THEN
    now_broken := seen;
  END IF;
  changed := now_broken IS DISTINCT FROM was;
  UPDATE chain_state s SET checked_at = now(),
         broken = now_broken, broken_at = CASE WHEN changed THEN CASE WHEN now_broken IS NULL THEN NULL ELSE now() END ELSE s.broken_at END,
         recheck_next_block = coalesce(p_next, s.recheck_next_block),
         last_pass_started_at = CASE WHEN p_from = 1 THEN now() ELSE s.last_pass_started_at END,
         last_pass_at = CASE WHEN p_pass_complete THEN now() ELSE s.last_pass_at END,
         last_pass_through = CASE WHEN p_pass_complete THEN p_to ELSE s.last_pass_through END
   WHERE s.id = 1;
END
$$;
REVOKE EXECUTE ON FUNCTION chain_record(bigint, bigint, jsonb, bigint, boolean) FROM PUBLIC;

-- One step of the rolling re-verification: re-hashes the next blocks (about p_max_rows rows)
-- from where the previous step stopped, wrapping to block 1 after the last, and records the
-- outcome. Returns the check (NULL when nothing is sealed).
CREATE FUNCTION chain_recheck(p_max_rows integer) RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  head bigint := (SELECT max(x.block_no) FROM ledger_blocks x);
  resume bigint;
  from_block bigint;
  to_block bigint;
  checked jsonb;
  stopped bigint;
  complete boolean;
BEGIN
  IF head IS NULL THEN
    RETURN NULL;
  END IF;
  resume := coalesce((SELECT s.recheck_next_block FROM chain_state s WHERE s.id = 1), 1);
  from_block := CASE WHEN resume > head OR resume < 1 THEN 1 ELSE resume END;
  to_block := coalesce(chain_run_end(from_block, greatest(p_max_rows, 1)), from_block);
  checked := chain_check(from_block, to_block);
  stopped := coalesce((nullif(checked->'break', 'null'::jsonb)->>'block_no')::bigint, to_block);
  complete := nullif(checked->'break', 'null'::jsonb) IS NULL AND to_block >= head;
  PERFORM chain_record(from_block, to_block, checked, CASE WHEN complete THEN 1 ELSE stopped + 1 END, complete);
  RETURN checked;
END
$$;

DO $$
BEGIN
  REVOKE EXECUTE ON FUNCTION chain_seal(bigint, integer, integer, boolean), chain_recheck(integer) FROM PUBLIC;
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'gridgov_app') THEN
    GRANT EXECUTE ON FUNCTION chain_seal(bigint, integer, integer, boolean), chain_recheck(integer) TO gridgov_app;
  END IF;
END
$$;
