// fullnat benchmarks: node dist/bench/run.js [--scenario NAME]... [--json] [--smoke] [--out DIR]
import { childMain, CHILD_FLAG } from './child';

async function main(argv: string[]): Promise<number> {
  if (argv[0] === CHILD_FLAG) {
    await childMain(argv[1]!, argv[2]!);
    return 0;
  }
  const { benchMain } = await import('./main');
  return benchMain(argv);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: Error) => {
    process.stderr.write(`bench: ${e.stack ?? e.message}\n`);
    process.exit(1);
  },
);
