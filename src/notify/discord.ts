import { DeliveryError, errorForStatus, errorForTransport } from './errors.ts';
import { parseRetryAfter } from '../retry.ts';

/**
 * Discord webhook client for the outbox. Discord has no idempotency key for webhooks, so a retry
 * after a lost answer may post twice; for an alert channel that is the lesser harm than silence.
 */

export interface DiscordEmbedField {
  name: string;
  value: string;
  inline?: boolean;
}

/** The subset of Discord's embed object that the engine sends. */
export interface DiscordEmbed {
  title?: string;
  description?: string;
  url?: string;
  color?: number;
  timestamp?: string;
  fields?: DiscordEmbedField[];
  footer?: { text: string };
}

export interface DiscordMessage {
  content?: string;
  embeds?: DiscordEmbed[];
}

export interface DiscordClientOptions {
  /** https://discord.com/api/webhooks/{id}/{token}; the token makes it a secret, so it is never logged. */
  webhookUrl: string;
  timeoutMs?: number;
  /** Sees every answer's headers (X-RateLimit-Remaining, X-RateLimit-Reset-After). */
  onResponse?: (headers: Headers) => void;
}

export interface DiscordClient {
  send(message: DiscordMessage): Promise<void>;
}

export interface RejectionLeg {
  actor_from: string;
  actor_to: string;
  resource: string;
  amount: string | number;
}

export interface RejectionNotice {
  error_code: string;
  proposal_id: string;
  legs: RejectionLeg[];
  message: string;
  rejected_at: string | Date;
}

const TARGET = 'Discord webhook';

/** Discord's own "red" from its brand palette. */
const REJECTION_COLOUR = 0xed4245;

/** Discord refuses the whole message (HTTP 400) when one embed part is over its limit. */
const LIMITS = { title: 256, description: 4096, fieldValue: 1024 } as const;

export function createDiscordClient(options: DiscordClientOptions): DiscordClient {
  const { webhookUrl, timeoutMs = 10_000 } = options;
  const url = new URL(webhookUrl);
  // wait=true makes Discord answer only once the message exists, so a 2xx means delivered.
  url.searchParams.set('wait', 'true');

  return {
    async send(message) {
      let response: Response;
      let text: string;
      try {
        response = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          // Text in a rejection comes from agents; it must never ping @everyone or a role.
          body: JSON.stringify({ ...message, allowed_mentions: { parse: [] } }),
          signal: AbortSignal.timeout(timeoutMs),
        });
        text = await response.text();
      } catch (err) {
        throw errorForTransport(TARGET, err, timeoutMs);
      }
      options.onResponse?.(response.headers);
      if (response.ok) return;
      if (response.status === 429) throw rateLimited(response, text);
      throw errorForStatus(TARGET, response);
    },
  };
}

/**
 * The body's retry_after is in seconds with a fractional part, while the header is rounded; the
 * body wins when readable. Cloudflare-level bans answer HTML, leaving only the header.
 */
function rateLimited(response: Response, text: string): DeliveryError {
  const bodySeconds = retryAfterFromBody(text);
  const retryAfterMs =
    bodySeconds === undefined ? parseRetryAfter(response.headers.get('retry-after')) : Math.max(0, Math.ceil(bodySeconds * 1000));
  return new DeliveryError(`${TARGET} rate limited the request (HTTP 429)`, {
    retryable: true,
    rateLimited: true,
    status: 429,
    retryAfterMs,
  });
}

function retryAfterFromBody(text: string): number | undefined {
  try {
    const body = JSON.parse(text) as { retry_after?: unknown };
    return typeof body.retry_after === 'number' && Number.isFinite(body.retry_after) ? body.retry_after : undefined;
  } catch {
    return undefined;
  }
}

/** One embed per rejected proposal: what was refused, why, between whom, for how much. */
export function rejectionEmbed(notice: RejectionNotice): DiscordEmbed {
  const rejectedAt = new Date(notice.rejected_at).toISOString();
  const actors = notice.legs.map((leg) => `${leg.actor_from} → ${leg.actor_to}`);
  const amounts = notice.legs.map((leg) => `${leg.amount} ${leg.resource}`);
  return {
    title: clip(`Proposal rejected: ${notice.error_code}`, LIMITS.title),
    description: clip(notice.message, LIMITS.description),
    color: REJECTION_COLOUR,
    timestamp: rejectedAt,
    fields: [
      { name: 'Proposal', value: fieldValue([`\`${notice.proposal_id}\``]), inline: false },
      { name: 'Actors', value: fieldValue(actors), inline: true },
      { name: 'Amount', value: fieldValue(amounts), inline: true },
      { name: 'Rejected at', value: rejectedAt, inline: false },
    ],
  };
}

/** Discord refuses empty field values, so a proposal without legs still shows a dash. */
function fieldValue(lines: string[]): string {
  return lines.length === 0 ? '—' : clip(lines.join('\n'), LIMITS.fieldValue);
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
