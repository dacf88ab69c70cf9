// pino loggers: JSON lines on stdout; readable (pino-pretty) in a terminal.
import pino, { type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string = 'info', pretty: boolean = process.stdout.isTTY === true): Logger {
  if (pretty) {
    return pino({ level, base: undefined }, pino.transport({ target: 'pino-pretty', options: { destination: 1 } }));
  }
  // Synchronous writes: the last lines before exit (final stats) are never lost.
  return pino({ level, base: { pid: process.pid } }, pino.destination({ dest: 1, sync: true }));
}
