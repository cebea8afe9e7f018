import type { FastifyInstance } from 'fastify';

/** A 4xx the error handler turns into MALFORMED_PROPOSAL on /execute and BAD_REQUEST elsewhere. */
class BodyError extends Error {
  readonly statusCode = 400;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Refuses keys that would reach an object's prototype once the body is copied or merged. */
function refusePrototypeKeys(key: string, value: unknown): unknown {
  if (key === '__proto__') throw new BodyError('body: the key "__proto__" is not allowed in a JSON body');
  return value;
}

/**
 * Parses a JSON body as the bytes that arrived: invalid UTF-8 is refused rather than silently
 * replaced with U+FFFD (which would change what is recorded), and "__proto__" gets its own message
 * instead of "not valid JSON". The reviver only runs when the text might hold such a key, so the
 * usual body costs one decode and one JSON.parse.
 */
export function parseJsonBody(body: Buffer): unknown {
  if (body.length === 0) throw new BodyError('body: the request body is empty; send a JSON object');
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    throw new BodyError('body: the request body is not valid UTF-8');
  }
  const suspicious = text.includes('__proto__') || text.includes('\\u');
  try {
    return suspicious ? JSON.parse(text, refusePrototypeKeys) : JSON.parse(text);
  } catch (error) {
    if (error instanceof BodyError) throw error;
    throw new BodyError('body: the request body is not valid JSON');
  }
}

export function registerJsonBodyParser(app: FastifyInstance): void {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) => {
    try {
      done(null, parseJsonBody(body as Buffer));
    } catch (error) {
      done(error as Error, undefined);
    }
  });
}
