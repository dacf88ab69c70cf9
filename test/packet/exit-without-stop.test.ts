// A process that ends without stop() (process.exit() in JS, or its event loop running out) must still stop
// the workers and the control thread, join them, and exit cleanly: the binding's environment cleanup hook
// and exit handler do it, and stop() before makes both no-ops.
// Before them (9ed7147) such a child also exited 0 here, but with the workers still polling while exit()
// tore the process down under them: nothing stopped them, and nothing could be seen doing so. The trace
// line (FULLNAT_TRACE_CLEANUP) is printed after fn_dp_stop() has joined them.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { removeRuntimeDir } from '../../src/dpdk/eal';

const CHILD = path.join(__dirname, 'exit-child.js');
const BY_EXIT = 'fullnat: data plane stopped by the exit handler';
const BY_HOOK = 'fullnat: data plane stopped by the environment cleanup hook';

/** Runs the child to its end (killed after 30 s: a hang shows as SIGTERM); its exit code, signal and trace lines. */
function runChild(how: 'exit' | 'loop-end' | 'stop' | 'restart') {
  const prefix = `fnexit${process.pid}${how.replace('-', '')}`;
  const r = spawnSync(process.execPath, [CHILD, how, prefix], {
    env: { ...process.env, FULLNAT_TRACE_CLEANUP: '1' },
    encoding: 'utf8',
    timeout: 30_000, // normally under 2 s; a hang never ends, and a loaded shared machine can be slow
  });
  removeRuntimeDir(prefix);
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('fullnat: data plane stopped'));
  return { status: r.status, signal: r.signal, stderr: r.stderr, lines };
}

describe('ending the process without stop()', () => {
  it('process.exit(0) with the data plane running: the exit handler stops it, exit code 0', () => {
    const r = runChild('exit');
    assert.deepEqual([r.status, r.signal], [0, null], r.stderr);
    assert.deepEqual(r.lines, [BY_EXIT], r.stderr);
  });

  it('the event loop running out with the data plane running: the environment cleanup hook stops it', () => {
    const r = runChild('loop-end');
    assert.deepEqual([r.status, r.signal], [0, null], r.stderr);
    assert.deepEqual(r.lines, [BY_HOOK], r.stderr);
  });

  it('stop() first: neither runs', () => {
    const r = runChild('stop');
    assert.deepEqual([r.status, r.signal], [0, null], r.stderr);
    assert.deepEqual(r.lines, [], r.stderr);
  });

  it('start, stop, start again, process.exit(0): stopped once, by the exit handler', () => {
    const r = runChild('restart');
    assert.deepEqual([r.status, r.signal], [0, null], r.stderr);
    assert.deepEqual(r.lines, [BY_EXIT], r.stderr);
  });
});
