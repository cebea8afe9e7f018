import { deriveId } from '../domain/ids.ts';
import { DeliveryError, errorForStatus, errorForTransport } from './errors.ts';
import { parseRetryAfter } from '../retry.ts';

/**
 * Linear client for the outbox: one issue per rejected proposal, created idempotently.
 *
 * Idempotency rests on the client-chosen issue id. A retry after a lost answer sends the same id;
 * Linear refuses the second insert, and we read the existing issue back instead of creating another.
 */

export interface LinearClientOptions {
  /** Personal API keys go in the header as they are; an OAuth caller passes 'Bearer <token>'. */
  apiKey: string;
  teamId: string;
  apiUrl?: string;
  labelIds?: string[];
  timeoutMs?: number;
  /** Sees every answer's headers (X-RateLimit-Requests-Remaining and the like). */
  onResponse?: (headers: Headers) => void;
}

export interface LinearIssueInput {
  /** UUID chosen by the caller; see linearIssueIdFor. */
  id: string;
  title: string;
  description: string;
}

export interface LinearIssueResult {
  outcome: 'created' | 'exists';
  id: string;
  identifier: string;
  url: string;
}

export interface LinearClient {
  createIssue(input: LinearIssueInput): Promise<LinearIssueResult>;
}

interface IssueRef {
  id: string;
  identifier: string;
  url: string;
}

interface GraphQLError {
  message?: string;
  extensions?: { code?: string; type?: string; userPresentableMessage?: string };
}

interface GraphQLResult<T> {
  status: number;
  data: T | null | undefined;
  errors: GraphQLError[];
}

const TARGET = 'Linear';
const DEFAULT_API_URL = 'https://api.linear.app/graphql';

const ISSUE_CREATE = `mutation IssueCreate($input: IssueCreateInput!) {
  issueCreate(input: $input) { success issue { id identifier url } }
}`;

const ISSUE_BY_ID = `query Issue($id: String!) {
  issue(id: $id) { id identifier url }
}`;

/**
 * Linear reports a taken id as INPUT_ERROR, message "conflict on insert of Issue" and
 * userPresentableMessage "Entity Issue with id … already exists."; the wording is not a contract,
 * so any of the usual phrasings counts. The read-back that follows confirms the issue is there.
 */
const DUPLICATE_ID = /already exists|duplicate|conflict on insert/i;

/**
 * Linear documents client ids as UUID v4, so the id derived from the proposal keeps v4's version
 * nibble while staying deterministic: the same proposal always maps to the same issue.
 */
export function linearIssueIdFor(proposalId: string): string {
  const id = deriveId('linear-issue', proposalId);
  return `${id.slice(0, 14)}4${id.slice(15)}`;
}

export function createLinearClient(options: LinearClientOptions): LinearClient {
  const { apiKey, teamId, apiUrl = DEFAULT_API_URL, labelIds = [], timeoutMs = 10_000 } = options;

  async function post<T>(query: string, variables: Record<string, unknown>): Promise<GraphQLResult<T>> {
    let response: Response;
    let text: string;
    try {
      response = await fetch(apiUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: apiKey },
        body: JSON.stringify({ query, variables }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      text = await response.text();
    } catch (err) {
      throw errorForTransport(TARGET, err, timeoutMs);
    }
    options.onResponse?.(response.headers);
    const body = parseJson(text) as { data?: T | null; errors?: unknown } | undefined;
    const errors = Array.isArray(body?.errors) ? (body.errors as GraphQLError[]) : [];
    if (response.status === 429 || errors.some((e) => e.extensions?.code === 'RATELIMITED')) {
      throw rateLimited(response);
    }
    if (response.status >= 500) throw errorForStatus(TARGET, response);
    if (body === undefined && response.ok) {
      // A 2xx we cannot read (a proxy's page, a cut body) says nothing about the issue; ask again.
      throw new DeliveryError(`${TARGET} answered HTTP ${response.status} without a JSON body`, {
        retryable: true,
        status: response.status,
      });
    }
    return { status: response.status, data: body?.data, errors };
  }

  async function findIssue(id: string): Promise<IssueRef> {
    const result = await post<{ issue?: IssueRef | null }>(ISSUE_BY_ID, { id });
    const issue = result.data?.issue;
    if (result.errors.length > 0 || !isIssueRef(issue)) {
      throw rejected('refused to read back issue', result, `issue ${id} reported as existing but not readable`);
    }
    return issue;
  }

  return {
    async createIssue({ id, title, description }) {
      const input = { id, teamId, title, description, labelIds };
      const result = await post<{ issueCreate?: { success?: boolean; issue?: IssueRef | null } }>(ISSUE_CREATE, {
        input,
      });
      if (result.errors.some(isDuplicateId)) return { outcome: 'exists', ...pick(await findIssue(id)) };
      const payload = result.data?.issueCreate;
      if (result.errors.length > 0 || payload?.success !== true || !isIssueRef(payload.issue)) {
        throw rejected('refused issueCreate', result, 'issueCreate did not report success');
      }
      return { outcome: 'created', ...pick(payload.issue) };
    },
  };
}

/** Linear signals limits as HTTP 429 or as a RATELIMITED error; its reset headers are epoch ms. */
function rateLimited(response: Response): DeliveryError {
  const reset = Number(response.headers.get('x-ratelimit-requests-reset'));
  const untilReset = Number.isFinite(reset) && reset > 0 ? Math.max(0, reset - Date.now()) : undefined;
  return new DeliveryError(`${TARGET} rate limited the request (HTTP ${response.status})`, {
    retryable: true,
    rateLimited: true,
    status: response.status,
    retryAfterMs: parseRetryAfter(response.headers.get('retry-after')) ?? untilReset,
  });
}

/** Anything left here is a 4xx or a GraphQL error about our request: sending it again will not help. */
function rejected(what: string, result: GraphQLResult<unknown>, fallback: string): DeliveryError {
  const reasons = result.errors.map((e) => e.extensions?.userPresentableMessage ?? e.message ?? 'unknown error');
  const reason = reasons.length > 0 ? reasons.join('; ').slice(0, 500) : result.status >= 400 ? 'request refused' : fallback;
  return new DeliveryError(`${TARGET} ${what} (HTTP ${result.status}): ${reason}`, {
    retryable: false,
    status: result.status,
  });
}

function isDuplicateId(error: GraphQLError): boolean {
  return [error.message, error.extensions?.userPresentableMessage].some((text) => typeof text === 'string' && DUPLICATE_ID.test(text));
}

function isIssueRef(value: unknown): value is IssueRef {
  const v = value as Partial<IssueRef> | null | undefined;
  return typeof v?.id === 'string' && typeof v.identifier === 'string' && typeof v.url === 'string';
}

function pick(issue: IssueRef): IssueRef {
  return { id: issue.id, identifier: issue.identifier, url: issue.url };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
