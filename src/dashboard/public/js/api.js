// Every call to the validator goes through the dashboard server's /api, which answers with an
// envelope {status, body}: a refusal is data to explain, not a failed resource.

const KEY_STORAGE = 'gridgov.apiKey';
// The live event stream (EventSource) cannot send a header: the dashboard server turns this
// session cookie, sent only to its own /api, into the Authorization header it forwards.
const KEY_COOKIE = 'gridgov_key';

function setCookie(value, maxAge) {
  document.cookie = `${KEY_COOKIE}=${encodeURIComponent(value)}; path=/api; SameSite=Strict${maxAge === undefined ? '' : `; Max-Age=${maxAge}`}`;
}

/** The key lives in sessionStorage: gone when the browser session ends, never in a URL. */
export const session = {
  get key() {
    return sessionStorage.getItem(KEY_STORAGE) ?? '';
  },
  setKey(key) {
    sessionStorage.setItem(KEY_STORAGE, key);
    setCookie(key);
  },
  forget() {
    sessionStorage.removeItem(KEY_STORAGE);
    setCookie('', 0);
  },
};

/** Fired when the validator wants a key for reading and this session holds none that works. */
export const KEY_NEEDED = 'gridgov:key-needed';

const WORDS = {
  UNAUTHORIZED: 'The validator did not accept the API key',
  FORBIDDEN: "This API key's role does not allow that",
  BAD_REQUEST: 'The validator refused the request',
  NOT_FOUND: 'Not found',
  MALFORMED_PROPOSAL: 'The proposal is malformed',
  CIRCUIT_BREAKER_OPEN: 'Trading is halted by the circuit breaker',
  DATABASE_UNAVAILABLE: 'The validator cannot reach its database, so nothing was read or changed',
  RATE_LIMITED: 'Too many requests; try again in a moment',
  INTERNAL_ERROR: 'The validator failed unexpectedly (details are in its log)',
  PAYLOAD_TOO_LARGE: 'The request is too large',
  UNSUPPORTED_MEDIA_TYPE: 'The request was not sent as JSON',
  VALIDATOR_UNREACHABLE: 'The dashboard cannot reach the validator',
};

export class ApiError extends Error {
  constructor(status, body, message) {
    super(message);
    this.status = status;
    this.body = body;
    this.code = body && typeof body === 'object' ? body.error_code : undefined;
  }
}

/** One sentence for a failed call: what it means, then the validator's own detail. */
export function describeError(status, body) {
  const code = body && typeof body === 'object' ? body.error_code : undefined;
  const detail = body && typeof body === 'object' && typeof body.message === 'string' ? body.message : '';
  const lead = WORDS[code] ?? `The validator answered HTTP ${status}`;
  const text = detail && detail.toLowerCase() !== lead.toLowerCase() ? `${lead}: ${detail}` : lead;
  return `${text}${/[.!?]$/.test(text) ? '' : '.'}${code ? ` (${status} ${code})` : ''}`;
}

/**
 * Calls the validator. Resolves with the body of a 2xx answer (or of a status listed in
 * `accept`); otherwise throws an ApiError whose message says what went wrong in words.
 */
export async function api(path, { method = 'GET', body, auth = false, key, accept = [] } = {}) {
  const headers = { 'x-gridgov-envelope': '1', accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  // The session's key goes with every call: a validator exposed beyond loopback wants one for reads too.
  const token = key ?? session.key;
  if (token) headers.authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch(`/api${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
    });
  } catch {
    throw new ApiError(0, null, 'The dashboard server could not be reached. Is it still running?');
  }
  if (!response.ok) throw new ApiError(response.status, null, `The dashboard server answered HTTP ${response.status}.`);
  const envelope = await response.json();
  if ((envelope.status >= 200 && envelope.status < 300) || accept.includes(envelope.status)) return envelope.body;
  if (envelope.status === 401 && key === undefined && !auth) window.dispatchEvent(new CustomEvent(KEY_NEEDED));
  throw new ApiError(envelope.status, envelope.body, describeError(envelope.status, envelope.body));
}

/** The validator's answer and its status, whatever the status: for optional routes. */
export async function probe(path) {
  const headers = { 'x-gridgov-envelope': '1', accept: 'application/json' };
  if (session.key) headers.authorization = `Bearer ${session.key}`;
  const response = await fetch(`/api${path}`, { headers, cache: 'no-store' });
  if (!response.ok) throw new ApiError(response.status, null, `The dashboard server answered HTTP ${response.status}.`);
  return response.json();
}
