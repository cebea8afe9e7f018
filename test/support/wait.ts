import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Polls until `condition` holds: tests wait for what they need, never for a fixed time. The
 * limit only turns a condition that never comes into a failure naming it; it is generous on
 * purpose, because the machine may be busy, and it asserts nothing about speed. `what` may be a
 * function, so that the failure can name the last state seen.
 */
export async function waitUntil(
  condition: () => boolean | Promise<boolean>,
  what: string | (() => string),
  options: { timeoutMs?: number; pollMs?: number } = {},
): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`gave up waiting: ${typeof what === 'string' ? what : what()}`);
    await sleep(options.pollMs ?? 20);
  }
}

/** Polls until `read` returns a value (not undefined) and returns it; the limit is `waitUntil`'s. */
export async function waitForValue<T>(
  read: () => Promise<T | undefined>,
  what: string,
  options: { timeoutMs?: number; pollMs?: number } = {},
): Promise<T> {
  let value: T | undefined;
  await waitUntil(async () => (value = await read()) !== undefined, what, options);
  return value!;
}
