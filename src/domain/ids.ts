import { createHash } from 'node:crypto';

/** The system actor: source and sink of all supply. Its id is fixed so every database agrees. */
export const WORLD_ACTOR_ID = '00000000-0000-0000-0000-000000000000';
export const WORLD_ACTOR_NAME = 'world';

/** Namespace for every deterministic id the engine derives (RFC 4122 UUIDv5). */
export const GRIDGOV_NAMESPACE = '6f1c1f5e-3d0a-5b7e-9a43-0c2f4f1d9b21';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return UUID_RE.test(value);
}

function uuidBytes(uuid: string): Buffer {
  return Buffer.from(uuid.replace(/-/g, ''), 'hex');
}

function formatUuid(bytes: Buffer): string {
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** RFC 4122 version-5 UUID: SHA-1 of namespace + name. */
export function uuidv5(name: string, namespace: string = GRIDGOV_NAMESPACE): string {
  const hash = createHash('sha1').update(uuidBytes(namespace)).update(name, 'utf8').digest();
  const bytes = hash.subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x50;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  return formatUuid(Buffer.from(bytes));
}

/** Deterministic id from several parts; parts are joined unambiguously. */
export function deriveId(...parts: Array<string | number>): string {
  return uuidv5(JSON.stringify(parts.map(String)));
}

/** A seeded actor's id depends only on its name, so two databases seeded alike agree row for row. */
export function actorIdFor(name: string): string {
  return name === WORLD_ACTOR_NAME ? WORLD_ACTOR_ID : deriveId('actor', name);
}

/** The key of an (actor, resource) balance in a Map. */
export const balanceKey = (actor: string, resource: string): string => `${actor}|${resource}`;
