#!/usr/bin/env node
// Standalone entry: node dist/src/preflight/main.js -c FILE [--json] [--offline]
// (the same as `fullnat preflight`; the end-to-end test runs it directly
// when the CLI does not offer the command).
import { parseArgs } from 'node:util';
import { preflight } from './index';

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      config: { type: 'string', short: 'c' },
      json: { type: 'boolean' },
      offline: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: false,
  });
  if (values.help || !values.config) {
    process.stderr.write('usage: preflight -c FILE [--json] [--offline]\n');
    return values.help ? 0 : 2;
  }
  return preflight(values.config, { json: values.json === true, offline: values.offline === true });
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(2);
  },
);
