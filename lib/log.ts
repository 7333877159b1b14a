// Logging: the library takes a Logger and never chooses one (silence by default). The daemon
// and CLI build one with winston that writes oslo.log-style lines:
//   2026-11-27 03:45:12.123 4242 INFO ferry.openstack [req-… site-a] message
import winston from 'winston';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger whose lines carry `scope` (site, run, request ID) in addition to ours. */
  child(scope: LogFields): Logger;
}

class SilentLogger implements Logger {
  debug(): void {}
  info(): void {}
  warn(): void {}
  error(): void {}
  child(): Logger {
    return this;
  }
}

export const silentLogger: Logger = new SilentLogger();

class WinstonLogger implements Logger {
  constructor(private readonly w: winston.Logger) {}
  debug(msg: string, fields?: LogFields): void {
    this.w.debug(msg, fields);
  }
  info(msg: string, fields?: LogFields): void {
    this.w.info(msg, fields);
  }
  warn(msg: string, fields?: LogFields): void {
    this.w.warn(msg, fields);
  }
  error(msg: string, fields?: LogFields): void {
    this.w.error(msg, fields);
  }
  child(scope: LogFields): Logger {
    return new WinstonLogger(this.w.child(scope));
  }
}

const OSLO_LEVEL: Record<string, string> = { debug: 'DEBUG', info: 'INFO', warn: 'WARNING', error: 'ERROR' };

function osloTimestamp(d: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

/** The oslo.log line format: time, pid, level, logger name, [request-id context], message. */
export const osloFormat = winston.format.printf((info) => {
  const { level, message, logger, requestId, site, run, ...rest } = info as Record<string, unknown>;
  const ctx = [requestId ?? '-', site ?? '-', run ?? '-'].join(' ');
  const extra = Object.entries(rest)
    .filter(([k]) => typeof k === 'string' && !k.startsWith('Symbol('))
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  const lvl = OSLO_LEVEL[String(level)] ?? String(level).toUpperCase();
  return `${osloTimestamp(new Date())} ${process.pid} ${lvl} ${String(logger ?? 'ferry')} [${ctx}] ${String(message)}${extra ? ` ${extra}` : ''}`;
});

export interface LoggerOptions {
  level?: LogLevel;
  name?: string;
  /** Write to this file as well as (or instead of, with `stderr: false`) standard error. */
  file?: string;
  stderr?: boolean;
}

/** A winston logger writing oslo.log-style lines to stderr and/or a file. */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const transports: winston.transport[] = [];
  if (opts.stderr !== false) {
    transports.push(new winston.transports.Console({ stderrLevels: ['debug', 'info', 'warn', 'error'] }));
  }
  if (opts.file) transports.push(new winston.transports.File({ filename: opts.file }));
  const w = winston.createLogger({
    level: opts.level ?? 'info',
    levels: { error: 0, warn: 1, info: 2, debug: 3 },
    format: osloFormat,
    defaultMeta: { logger: opts.name ?? 'ferry' },
    transports,
  });
  return new WinstonLogger(w);
}

/** A logger that keeps lines in memory; tests use it to prove what is (not) logged. */
export class MemoryLogger implements Logger {
  readonly lines: { level: LogLevel; msg: string; fields: LogFields }[];
  constructor(
    private readonly scope: LogFields = {},
    lines?: { level: LogLevel; msg: string; fields: LogFields }[],
  ) {
    this.lines = lines ?? [];
  }
  private push(level: LogLevel, msg: string, fields?: LogFields): void {
    this.lines.push({ level, msg, fields: { ...this.scope, ...fields } });
  }
  debug(msg: string, fields?: LogFields): void {
    this.push('debug', msg, fields);
  }
  info(msg: string, fields?: LogFields): void {
    this.push('info', msg, fields);
  }
  warn(msg: string, fields?: LogFields): void {
    this.push('warn', msg, fields);
  }
  error(msg: string, fields?: LogFields): void {
    this.push('error', msg, fields);
  }
  child(scope: LogFields): Logger {
    return new MemoryLogger({ ...this.scope, ...scope }, this.lines);
  }
  /** Everything logged, as one string, for "no secret appears" assertions. */
  text(): string {
    return this.lines.map((l) => `${l.level} ${l.msg} ${JSON.stringify(l.fields)}`).join('\n');
  }
}
