export interface SseEvent {
  id: string | undefined;
  event: string;
  data: any;
}

export interface EventStream {
  status: number;
  events: SseEvent[];
  /** Comment lines received (heartbeats). */
  comments: string[];
  /** The next event matching `match` that has not been taken yet, waiting up to timeoutMs. */
  next(match: string | ((e: SseEvent) => boolean), timeoutMs?: number): Promise<SseEvent>;
  close(): void;
}

/** A minimal text/event-stream client over fetch, as a browser's EventSource would read it. */
export async function openEventStream(url: string): Promise<EventStream> {
  const controller = new AbortController();
  const response = await fetch(url, { signal: controller.signal, headers: { accept: 'text/event-stream' } });
  const events: SseEvent[] = [];
  const comments: string[] = [];
  const taken = new Set<SseEvent>();
  let waiters: Array<() => void> = [];
  const wake = () => {
    const current = waiters;
    waiters = [];
    for (const w of current) w();
  };

  void (async () => {
    if (!response.body) return;
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of response.body) {
        buffer += decoder.decode(chunk as Uint8Array, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          let event = 'message';
          let id: string | undefined;
          const data: string[] = [];
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) comments.push(line.slice(1).trim());
            else if (line.startsWith('event: ')) event = line.slice(7);
            else if (line.startsWith('id: ')) id = line.slice(4);
            else if (line.startsWith('data: ')) data.push(line.slice(6));
          }
          if (data.length > 0) events.push({ id, event, data: JSON.parse(data.join('\n')) });
          wake();
        }
      }
    } catch {
      // aborted by close()
    }
    wake();
  })();

  return {
    status: response.status,
    events,
    comments,
    async next(match, timeoutMs = 5000) {
      const test = typeof match === 'string' ? (e: SseEvent) => e.event === match : match;
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = events.find((e) => !taken.has(e) && test(e));
        if (found) {
          taken.add(found);
          return found;
        }
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no matching event within ${timeoutMs} ms; got: ${JSON.stringify(events.map((e) => e.event))}`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
    },
    close: () => controller.abort(),
  };
}
