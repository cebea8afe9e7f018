import type { z } from 'zod';

/**
 * The one formatter for validation errors from a schema: the first issue, as the field it names
 * (a dotted path; `root` for the value as a whole) and a message that starts with that field.
 */
export function describeIssue(error: z.ZodError, root = 'body'): { field: string; message: string } {
  const issue = error.issues[0];
  const field = issue && issue.path.length > 0 ? issue.path.join('.') : root;
  if (issue?.code === 'unrecognized_keys') {
    const keys = issue.keys.join(', ');
    return { field: issue.path.length ? `${field}.${issue.keys[0]}` : (issue.keys[0] ?? field), message: `unknown field(s): ${keys}` };
  }
  return { field, message: `${field}: ${issue?.message ?? 'invalid'}` };
}

/**
 * A schema's error for a value that is missing or of the wrong type, saying what is expected:
 * "amount: required, a positive number …" rather than zod's "Invalid input". Other issues (too
 * long, too short) keep their own message.
 */
export const expecting = (what: string) => ({
  error: (issue: { code?: string; input?: unknown }) =>
    issue.code === 'invalid_type' || issue.code === 'invalid_union'
      ? issue.input === undefined
        ? `required, ${what}`
        : `must be ${what}`
      : undefined,
});
