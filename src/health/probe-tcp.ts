// TCP probe: healthy when the three-way handshake completes within the
// timeout; the connection is closed at once and nothing is sent.
import { connect } from 'node:net';
import type { HealthTarget } from './check';
import { deadline, describeError, timeoutReason, type Probe, type ProbeDone } from './probe';

export const tcpProbe: Probe = (t: HealthTarget, done: ProbeDone) => {
  const ms = t.check.timeout_ms;
  let finished = false;
  // A plain close (FIN), not a reset: the server sees an ordinary client, and
  // the gateway's TIME_WAIT cost is one socket per probe per server, spread
  // over distinct 4-tuples (about 30 per server at 2 s intervals).
  const end = (): boolean => {
    if (finished) return false;
    finished = true;
    clearDeadline();
    socket?.destroy();
    return true;
  };
  const finish = (error: string | null): void => {
    if (end()) done(error);
  };
  const clearDeadline = deadline(ms, () => finish(timeoutReason(ms)));
  let socket: ReturnType<typeof connect> | undefined;
  try {
    socket = connect({ host: t.address, port: t.port });
  } catch (err) {
    process.nextTick(() => finish(describeError(err, 'connect')));
    return end;
  }
  socket.once('connect', () => finish(null));
  // Stays attached after destroy(): a late 'error' must never be unhandled.
  socket.on('error', (err) => finish(describeError(err, 'connect')));
  return end;
};
