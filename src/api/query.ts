import { z } from 'zod';
import { describeIssue } from '../domain/issues.ts';
import { findUnstorable } from '../domain/proposal.ts';
import { ApiError } from './errors.ts';

/**
 * Parses a request's query (root "query") or body (root "body") with a zod schema; a bad one is a
 * 400 naming the field. A NUL or a lone surrogate cannot reach Postgres text or jsonb: refused
 * here, not as a failed statement.
 */
function parseInput<T extends z.ZodType>(schema: T, input: unknown, root: 'query' | 'body'): z.infer<T> {
  const unstorable = findUnstorable(input ?? {});
  if (unstorable) throw new ApiError('BAD_REQUEST', unstorable.message, { field: unstorable.field });
  const parsed = schema.safeParse(input ?? {});
  if (parsed.success) return parsed.data;
  const { field, message } = describeIssue(parsed.error, root);
  throw new ApiError('BAD_REQUEST', message, { field });
}

export const parseQuery = <T extends z.ZodType>(schema: T, query: unknown): z.infer<T> => parseInput(schema, query, 'query');
export const parseBody = <T extends z.ZodType>(schema: T, body: unknown): z.infer<T> => parseInput(schema, body, 'body');

export const limitParam = z.coerce.number().int().min(1).max(500).default(50).describe('Page size');
export const uuidParam = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'must be a UUID');
export const ledgerIdParam = z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
