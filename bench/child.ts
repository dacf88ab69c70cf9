// Runs one data-plane job in a child process (EAL initialises once per
// process, and a fresh process per measurement keeps runs independent).
// The child's stdout (EAL logs) goes to our stderr; the result comes back in a
// file, so nothing DPDK prints can corrupt it.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { removeChildLeftovers } from './hugepages';
import type { Job, JobResult } from './jobs';

export const CHILD_FLAG = '--child-job';

export async function inChild(job: Job, timeoutMs = 10 * 60_000): Promise<JobResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fnbench-'));
  const out = path.join(dir, 'result.json');
  const script = path.join(__dirname, 'run.js');
  try {
    await new Promise<void>((resolve, reject) => {
      const child = spawn(process.execPath, ['--max-old-space-size=8192', '--expose-gc', script, CHILD_FLAG, JSON.stringify(job), out], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      child.stdout.on('data', (d: Buffer) => process.stderr.write(d));
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.on('error', reject);
      child.on('exit', (code, sig) => {
        clearTimeout(timer);
        removeChildLeftovers(`fnbench${child.pid}`);
        if (code === 0) resolve();
        else reject(new Error(`bench child for ${JSON.stringify(job)} failed (${sig ?? `exit ${code}`})`));
      });
    });
    return JSON.parse(fs.readFileSync(out, 'utf8')) as JobResult;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The child side: run the job, write the result, exit (EAL cleanup runs on exit). */
export async function childMain(jobText: string, out: string): Promise<void> {
  const { runJob } = await import('./jobs');
  const r = await runJob(JSON.parse(jobText) as Job);
  fs.writeFileSync(out, JSON.stringify(r));
}
