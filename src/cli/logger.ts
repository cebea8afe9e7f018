import { pino, destination, type DestinationStream, type Logger } from 'pino';
import type { Config } from '../config.ts';
import { traceLogFields } from '../observability/tracing.ts';

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
/** Fields every line carries, or that the line's own text already says. */
const HIDDEN = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg', 'component', 'v']);

/** A field as a line shows it: text as it is, anything else as JSON, nothing as nothing. */
const text = (v: unknown): string => (v === undefined || v === null ? '' : typeof v === 'string' ? v : JSON.stringify(v));

function value(v: unknown): string {
  if (typeof v === 'string') return /[\s"=]/.test(v) ? JSON.stringify(v) : v;
  return JSON.stringify(v);
}

/** One pino JSON line as a person reads it: `10:42:01 WARN  runner  message  key=value`. */
export function prettyLine(json: string): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const time = new Date(typeof entry.time === 'number' ? entry.time : Date.now()).toTimeString().slice(0, 8);
  const level = (LEVELS[entry.level as number] ?? String(entry.level)).padEnd(5);
  const who = text(entry.component ?? entry.name);
  const err = entry.err as { message?: string; stack?: string } | undefined;
  const fields = Object.entries(entry)
    .filter(([k, v]) => !HIDDEN.has(k) && k !== 'err' && v !== undefined)
    .map(([k, v]) => `${k}=${value(v)}`);
  const reason = err?.message ? `: ${err.message}` : '';
  // A stack trace only at debug level: an expected failure is one line.
  const stack = err?.stack && (entry.level as number) < 30 ? `\n${err.stack}` : '';
  return `${time} ${level} ${who ? `${who}  ` : ''}${text(entry.msg)}${reason}${fields.length ? `  ${fields.join(' ')}` : ''}${stack}\n`;
}

/** A line a command redraws in place on the terminal (the experiment's progress bar). */
export interface LiveLine {
  /** What wipes it from the terminal ('' when nothing is drawn). */
  erase(): string;
  /** What draws it again. */
  draw(): string;
}
let live: LiveLine | undefined;

/** While set, every log line is written above `line`: erased first, drawn again after. */
export function keepBelowLogLines(line: LiveLine | undefined): void {
  live = line;
}

const aboveLiveLine = (text: string) => (live ? `${live.erase()}${text}${live.draw()}` : text);

function prettyDestination(fd: number): DestinationStream {
  const out = destination({ fd, sync: true });
  return { write: (line: string) => void out.write(aboveLiveLine(prettyLine(line.trimEnd()))) };
}

function jsonDestination(fd: number): DestinationStream {
  const out = destination({ fd, sync: true });
  return { write: (line: string) => void out.write(aboveLiveLine(line)) };
}

export function createLogger(config: Pick<Config, 'logLevel' | 'logFormat'>, name: string): Logger {
  return pino(
    {
      name,
      level: config.logLevel,
      // Lines written inside a traced request carry its trace_id and span_id.
      mixin: traceLogFields,
      // Keys and credentials must never reach a log line, whatever object is logged.
      redact: { paths: ['*.authorization', 'headers.authorization', '*.apiKey', '*.password', 'config.adminKey'], censor: '[redacted]' },
    },
    config.logFormat === 'pretty' ? prettyDestination(2) : jsonDestination(2),
  );
}
