/**
 * Waits until `check` holds, polling; fails naming `what` once `deadlineMs` has passed. For
 * conditions a test waits on (a socket closed, rows delivered), never as a timing assertion.
 */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, deadlineMs: number, intervalMs = 100): Promise<void> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > deadlineMs) throw new Error(`${what} did not happen within ${deadlineMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
