import { pino, type Logger } from 'pino';

export type { Logger };

/** Structured JSON logs, one logger per app, tagged with the app's name. */
export function createLogger(app: string, level: string): Logger {
  return pino({ name: app, level, base: { app, pid: process.pid } });
}
