import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { readJson, sendJson, startFakeServer } from './fake-http.ts';

const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) =>
  sendJson(res, status, body, { 'content-type': 'application/json; charset=utf-8', ...headers });

/**
 * A Linear GraphQL endpoint that knows two operations, issueCreate and issue(id:), and answers them
 * in Linear's shapes, including the error Linear gives when a client-chosen id is already taken.
 * Modes reproduce the failures the outbox must survive.
 */

export const FakeLinearMode = {
  ok: 'ok',
  fail: 'fail',
  hang: 'hang',
  rateLimit: 'rateLimit',
  /** Store the issue, then cut the connection: the caller cannot know the create landed. */
  dropAfterCreate: 'dropAfterCreate',
  /** Refuse the request with an error that echoes the Authorization header back, as some proxies do. */
  echoKey: 'echoKey',
} as const;
export type FakeLinearMode = (typeof FakeLinearMode)[keyof typeof FakeLinearMode];

export interface FakeLinearOptions {
  apiKey?: string;
  teamKey?: string;
}

export interface FakeLinearIssue {
  id: string;
  identifier: string;
  url: string;
  teamId: string;
  title: string;
  description: string | undefined;
  labelIds: string[];
}

export interface FakeLinearRequest {
  headers: IncomingHttpHeaders;
  body: { query?: string; variables?: Record<string, unknown> } | undefined;
}

export interface FakeLinear {
  /** The GraphQL endpoint, for createLinearClient's apiUrl. */
  url: string;
  apiKey: string;
  issues: Map<string, FakeLinearIssue>;
  requests: FakeLinearRequest[];
  setMode(mode: FakeLinearMode): void;
  close(): Promise<void>;
}

type GraphQLAnswer = { status: number; body: unknown };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Linear's error envelope: code and type in extensions, a user-facing sentence beside the raw one. */
function inputError(message: string, userPresentableMessage: string, path: string): GraphQLAnswer {
  const extensions = { type: 'invalid input', code: 'INPUT_ERROR', statusCode: 400, userError: true };
  return {
    status: 200,
    body: { data: null, errors: [{ message, path: [path], extensions: { ...extensions, userPresentableMessage } }] },
  };
}

export async function startFakeLinear(options: FakeLinearOptions = {}): Promise<FakeLinear> {
  const apiKey = options.apiKey ?? 'lin_api_fake_0123456789';
  const teamKey = options.teamKey ?? 'GOV';
  const issues = new Map<string, FakeLinearIssue>();
  const requests: FakeLinearRequest[] = [];
  let mode: FakeLinearMode = 'ok';

  function createIssue(input: Record<string, unknown>): GraphQLAnswer {
    const id = input.id;
    if (typeof id !== 'string' || !UUID.test(id) || typeof input.teamId !== 'string' || !input.title) {
      return inputError('Argument Validation Error', 'id must be a UUID; teamId and title are required.', 'issueCreate');
    }
    if (issues.has(id)) {
      return inputError('conflict on insert of Issue', `Entity Issue with id ${id} already exists.`, 'issueCreate');
    }
    const identifier = `${teamKey}-${issues.size + 1}`;
    const issue: FakeLinearIssue = {
      id,
      identifier,
      url: `https://linear.app/team/issue/${identifier}`,
      teamId: input.teamId,
      title: typeof input.title === 'string' ? input.title : JSON.stringify(input.title),
      description: typeof input.description === 'string' ? input.description : undefined,
      labelIds: Array.isArray(input.labelIds) ? input.labelIds.map(String) : [],
    };
    issues.set(id, issue);
    return { status: 200, body: { data: { issueCreate: { success: true, issue: publicFields(issue) } } } };
  }

  function readIssue(id: unknown): GraphQLAnswer {
    const issue = typeof id === 'string' ? issues.get(id) : undefined;
    if (issue === undefined) return inputError('Entity not found: Issue', 'Could not find referenced Issue.', 'issue');
    return { status: 200, body: { data: { issue: publicFields(issue) } } };
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = (await readJson(req)) as FakeLinearRequest['body'];
    requests.push({ headers: req.headers, body });
    if (mode === 'hang') return;
    if (mode === 'fail') return send(res, 500, { errors: [{ message: 'Internal server error' }] });
    if (mode === 'rateLimit') {
      const error = { message: 'Rate limit exceeded', extensions: { code: 'RATELIMITED', type: 'ratelimited' } };
      return send(res, 429, { errors: [error] }, { 'retry-after': '1' });
    }
    if (mode === 'echoKey') {
      const echoed = `Invalid request: headers {"authorization":"${req.headers.authorization}"} key=${req.headers.authorization}`;
      const extensions = { type: 'invalid input', code: 'INPUT_ERROR', statusCode: 400, userError: true, userPresentableMessage: echoed };
      return send(res, 400, { errors: [{ message: echoed, extensions }] });
    }
    if (req.method !== 'POST' || req.url !== '/graphql') return send(res, 404, { errors: [{ message: 'Not found' }] });
    if (req.headers.authorization !== apiKey) {
      const extensions = { type: 'authentication error', code: 'AUTHENTICATION_ERROR', statusCode: 401, userError: true };
      return send(res, 401, { errors: [{ message: 'Authentication required, not authenticated', extensions }] });
    }
    const query = body?.query ?? '';
    const variables = body?.variables ?? {};
    let answer: GraphQLAnswer;
    if (/\bissueCreate\s*\(/.test(query)) {
      answer = createIssue((variables.input ?? {}) as Record<string, unknown>);
      if (mode === 'dropAfterCreate') return void req.socket.destroy();
    } else if (/\bissue\s*\(/.test(query)) {
      answer = readIssue(variables.id);
    } else {
      answer = { status: 400, body: { errors: [{ message: 'Unsupported operation for the fake Linear' }] } };
    }
    send(res, answer.status, answer.body);
  }

  const server = await startFakeServer(handle, (res, err) => send(res, 500, { errors: [{ message: String(err) }] }));

  return {
    url: `${server.origin}/graphql`,
    apiKey,
    issues,
    requests,
    setMode(next) {
      mode = next;
    },
    close: () => server.close(),
  };
}

function publicFields(issue: FakeLinearIssue): { id: string; identifier: string; url: string } {
  return { id: issue.id, identifier: issue.identifier, url: issue.url };
}
