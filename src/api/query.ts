import { z } from 'zod';
import { findUnstorable } from '../domain/proposal.ts';
import { ApiError } from './errors.ts';

/** Parses query parameters with a zod schema; a bad one is a 400 naming the parameter. */
export function parseQuery<T extends z.ZodType>(schema: T, query: unknown): z.infer<T> {
  // A NUL (%00) cannot reach Postgres text: refused here, not as a failed query.
  const unstorable = findUnstorable(query ?? {});
  if (unstorable) throw new ApiError('BAD_REQUEST', unstorable.message, { field: unstorable.field });
  const parsed = schema.safeParse(query ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.join('.') || 'query';
    const message = issue?.code === 'unrecognized_keys' ? `unknown query parameter(s): ${issue.keys.join(', ')}` : `${field}: ${issue?.message}`;
    throw new ApiError('BAD_REQUEST', message, { field });
  }
  return parsed.data;
}

export const limitParam = z.coerce.number().int().min(1).max(500).default(50);
export const uuidParam = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'must be a UUID');
export const ledgerIdParam = z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
