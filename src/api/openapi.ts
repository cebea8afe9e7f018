import { ErrorCode, errorDescriptions } from '../domain/errors.ts';
import { httpStatus } from './errors.ts';
import { runPaths } from './routes/runs.ts';

const amount = {
  oneOf: [{ type: 'number' }, { type: 'string', pattern: '^\\d+(\\.\\d{1,6})?$' }],
  description: 'Exact decimal, at most 6 places, > 0',
};
const leg = {
  type: 'object',
  additionalProperties: false,
  required: ['actor_from', 'actor_to', 'resource', 'amount'],
  properties: {
    actor_from: { type: 'string', description: 'Actor id (uuid) or name' },
    actor_to: { type: 'string', description: 'Actor id (uuid) or name' },
    resource: { type: 'string' },
    amount,
  },
};
const error = {
  type: 'object',
  required: ['status', 'error_code', 'message'],
  properties: { status: { const: 'error' }, error_code: { enum: Object.values(ErrorCode) }, message: { type: 'string' } },
};
const json = (schema: unknown, description: string) => ({ description, content: { 'application/json': { schema } } });
const errorReply = (description: string) => json({ $ref: '#/components/schemas/Error' }, description);
const get = (summary: string, parameters: unknown[] = [], extra: Record<string, unknown> = {}) => ({
  get: { summary, parameters, responses: { 200: { description: 'OK' }, 400: errorReply('Bad query parameter') }, ...extra },
});
const q = (name: string, description: string, schema: unknown = { type: 'string' }) => ({
  name,
  in: 'query',
  required: false,
  description,
  schema,
});

const adminPost = (summary: string, properties: Record<string, unknown>, required: string[]) => ({
  post: {
    summary,
    security: [{ bearer: [] }],
    requestBody: {
      required: true,
      content: { 'application/json': { schema: { type: 'object', additionalProperties: false, required, properties } } },
    },
    responses: {
      200: { description: 'Applied; audited in the same transaction' },
      400: errorReply('BAD_REQUEST, naming the field'),
      401: errorReply('UNAUTHORIZED: no valid key (audited)'),
      403: errorReply('FORBIDDEN: role too weak (audited)'),
      404: errorReply('NOT_FOUND: no such actor or resource'),
    },
  },
});

/** The OpenAPI 3.1 description served at /openapi.json. */
export function openApiDocument(version: string) {
  return {
    openapi: '3.1.0',
    info: {
      title: 'Grid Governance Engine validator',
      version,
      description:
        'The only writer of the append-only ledger. Error codes:\n\n' +
        Object.values(ErrorCode)
          .map((c) => `- \`${c}\` (${httpStatus[c]}): ${errorDescriptions[c]}`)
          .join('\n'),
    },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'An API key (gridgov keys create) or GRIDGOV_ADMIN_KEY' } },
      schemas: {
        Error: error,
        Leg: leg,
        Proposal: {
          oneOf: [
            {
              type: 'object',
              additionalProperties: false,
              required: ['proposal_id', 'actor_from', 'actor_to', 'resource', 'amount'],
              properties: { proposal_id: { type: 'string', format: 'uuid' }, ...leg.properties, metadata: { type: 'object' } },
            },
            {
              type: 'object',
              additionalProperties: false,
              required: ['proposal_id', 'legs'],
              properties: {
                proposal_id: { type: 'string', format: 'uuid' },
                legs: { type: 'array', minItems: 1, maxItems: 16, items: { $ref: '#/components/schemas/Leg' } },
                metadata: { type: 'object' },
              },
            },
          ],
        },
      },
    },
    paths: {
      '/execute': {
        post: {
          summary: 'Validate and apply a proposal atomically; idempotent on proposal_id',
          security: [{}, { bearer: [] }],
          requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/Proposal' } } } },
          responses: {
            200: json(
              {
                type: 'object',
                properties: {
                  status: { const: 'applied' },
                  proposal_id: { type: 'string' },
                  replayed: { type: 'boolean' },
                  ledger_ids: { type: 'array', items: { type: 'integer' } },
                  executed_at: { type: 'string', format: 'date-time' },
                },
              },
              'Applied (or replayed: true for a retry)',
            ),
            400: errorReply('MALFORMED_PROPOSAL, naming the field'),
            401: errorReply('The key is not valid, or none was given while GRIDGOV_EXECUTE_AUTH is required'),
            403: json(
              {
                type: 'object',
                properties: {
                  status: { enum: ['rejected', 'error'] },
                  error_code: { enum: ['FORBIDDEN_ACTOR', 'FORBIDDEN'] },
                  message: { type: 'string' },
                },
              },
              "FORBIDDEN_ACTOR: a recorded rejection (world's funds without system, an agent key debiting another actor, several debtors without system or operator); FORBIDDEN: a viewer key",
            ),
            409: errorReply('IDEMPOTENCY_CONFLICT'),
            422: json(
              {
                type: 'object',
                properties: {
                  status: { const: 'rejected' },
                  error_code: { type: 'string' },
                  message: { type: 'string' },
                  replayed: { type: 'boolean' },
                },
              },
              'Business rejection, recorded once',
            ),
            503: errorReply(
              'CIRCUIT_BREAKER_OPEN (nothing recorded) or DATABASE_UNAVAILABLE (nothing recorded, unless the connection broke during the commit): retry with the same proposal_id',
            ),
          },
        },
      },
      '/world-state': get('The WorldState snapshot', [
        q(
          'at',
          'A ledger id, or an ISO 8601 timestamp with a zone: the state as of that entry (or of the newest one executed by then), replayed from the nearest checkpoint; the reply then has as_of',
          {
            oneOf: [
              { type: 'integer', minimum: 0 },
              { type: 'string', format: 'date-time' },
            ],
          },
        ),
      ]),
      '/ledger': get('Ledger entries, newest first, cursor-paginated', [
        q('cursor', 'next_cursor of the previous page', { type: 'integer' }),
        q('limit', '1-500, default 50', { type: 'integer' }),
        q('actor', 'Actor id or name'),
        q('resource', 'Resource name'),
        q('proposal_id', 'Proposal id'),
        q('kind', 'trade, genesis, production, consumption or adjustment'),
      ]),
      '/rejections': get('Rejected proposals, newest first, with delivery status', [
        q('cursor', 'next_cursor of the previous page'),
        q('limit', '1-500'),
        q('error_code', 'Filter by code'),
        q('proposal_id', 'Proposal id'),
      ]),
      '/actors': get('Actors and their balances'),
      '/resources': get('Resources, units and effective limits'),
      '/admin/balance': adminPost(
        "Set an actor's balance: an adjustment entry against world for the difference (admin)",
        {
          actor_id: { type: 'string', description: 'Actor id or name' },
          resource: { type: 'string' },
          amount,
        },
        ['actor_id', 'resource', 'amount'],
      ),
      '/admin/reset-credit': adminPost("Set credits back to the scenario's default_credit (admin)", { actor_id: { type: 'string' } }, [
        'actor_id',
      ]),
      '/admin/circuit-breaker': adminPost(
        'Halt (enabled: true) or resume /execute on every replica (operator)',
        {
          enabled: { type: 'boolean' },
          reason: { type: 'string', maxLength: 500 },
        },
        ['enabled'],
      ),
      '/admin/audit': {
        get: {
          summary: 'The audit log, newest first (viewer)',
          security: [{ bearer: [] }],
          parameters: [
            q('cursor', 'next_cursor of the previous page', { type: 'integer' }),
            q('limit', '1-500', { type: 'integer' }),
            q('action', 'e.g. admin.balance'),
            q('admin_user', 'key name'),
          ],
          responses: { 200: { description: 'OK' }, 401: errorReply('No valid key'), 403: errorReply('Role too weak') },
        },
      },
      '/admin/auth-failures': {
        get: {
          summary: 'Failed admin authentications, counted per client address and minute, newest first (viewer)',
          security: [{ bearer: [] }],
          parameters: [q('limit', '1-500', { type: 'integer' })],
          responses: {
            200: { description: 'OK' },
            401: errorReply('No valid key'),
            403: errorReply('Role too weak'),
            429: errorReply('RATE_LIMITED'),
          },
        },
      },
      '/stats': get(
        'Aggregates for dashboards: ledger head, epoch, applied and rejected in the window (counts, per minute, acceptance), rejections by code, outbox by status and topic, supply and Gini per resource',
        [q('window', 'Seconds to count recent activity over, 10-86400, default 300', { type: 'integer' })],
      ),
      '/events': {
        get: {
          summary:
            'Server-sent events (text/event-stream), fed by Postgres LISTEN/NOTIFY so every replica sees every write: hello, status, ledger, rejection, breaker, resync; a comment line every 15 s',
          responses: {
            200: { description: 'An event stream', content: { 'text/event-stream': { schema: { type: 'string' } } } },
            429: errorReply('RATE_LIMITED: too many subscribers'),
          },
        },
      },
      '/health': {
        get: {
          summary: "Database, ledger consistency (the background verifier's verdict and its age), hash chain and breaker checks",
          responses: {
            200: { description: 'Healthy' },
            503: {
              description: 'A check failed (drift, stale verdict, broken chain, breaker open, database down); the body has every check',
            },
          },
        },
      },
      '/livez': { get: { summary: 'The process is up', responses: { 200: { description: 'OK' } } } },
      '/metrics': {
        get: {
          summary: 'Prometheus metrics (requests, decisions, group commits, ledger state, outbox, pools, process)',
          responses: { 200: { description: 'text/plain exposition' } },
        },
      },
      '/execute/batch': {
        post: {
          summary: 'Up to 500 proposals in one transaction, in order, one outcome each (with http_status)',
          security: [{}, { bearer: [] }],
          requestBody: {
            required: true,
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  additionalProperties: false,
                  required: ['proposals'],
                  properties: {
                    proposals: { type: 'array', minItems: 1, maxItems: 500, items: { $ref: '#/components/schemas/Proposal' } },
                  },
                },
              },
            },
          },
          responses: {
            200: { description: '{results: [...]} in request order' },
            400: errorReply('MALFORMED_PROPOSAL: the body is not {proposals: [...]}'),
            503: errorReply(
              'CIRCUIT_BREAKER_OPEN, DATABASE_UNAVAILABLE or COMMIT_FAILED: nothing recorded (for DATABASE_UNAVAILABLE, unless the connection broke during the commit); retry with the same proposal_ids',
            ),
          },
        },
      },
      '/openapi.json': { get: { summary: 'This document', responses: { 200: { description: 'OK' } } } },
      ...runPaths,
    },
  };
}
