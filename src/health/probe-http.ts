// HTTP probe: GET the configured path on a fresh connection; healthy when the
// status is the expected one and, if asked, the body contains a substring.
import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import { isIPv6 } from 'node:net';
import { HTTP_BODY_LIMIT, HEALTH_CHECK_DEFAULTS, hostPort, type HealthTarget } from './check';
import { deadline, describeError, timeoutReason, type Probe, type ProbeDone } from './probe';

type Phase = 'connect' | 'response' | 'body';

// What a timeout interrupted: a host that never answers the SYN and an
// application that accepts but hangs are different problems.
const TIMEOUT_DETAIL: Record<Phase, string> = {
  connect: '',
  response: ' waiting for response',
  body: ' reading body',
};

const MID_BODY = 'connection closed while reading body';

/** RFC 9110 §7.2: the port is omitted when it is the scheme's default. */
export function defaultHost(address: string, port: number): string {
  if (port !== 80) return hostPort(address, port);
  return isIPv6(address) ? `[${address}]` : address;
}

export const httpProbe: Probe = (t: HealthTarget, done: ProbeDone) => {
  const ms = t.check.timeout_ms;
  const h = t.check.http ?? HEALTH_CHECK_DEFAULTS.http;
  const needle = h.body ? Buffer.from(h.body, 'utf8') : null;
  let phase: Phase = 'connect';
  let finished = false;
  let req: ClientRequest | undefined;
  let res: IncomingMessage | undefined;

  // Every way out destroys the response and the request, hence the socket:
  // agent: false means no pool would keep it alive anyway.
  const end = (): boolean => {
    if (finished) return false;
    finished = true;
    clearDeadline();
    res?.destroy();
    req?.destroy();
    return true;
  };
  const finish = (error: string | null): void => {
    if (end()) done(error);
  };
  const clearDeadline = deadline(ms, () => finish(timeoutReason(ms, TIMEOUT_DETAIL[phase])));

  try {
    req = request({
      host: t.address,
      port: t.port,
      method: 'GET',
      path: h.path,
      agent: false,
      headers: {
        host: h.host ?? defaultHost(t.address, t.port),
        'user-agent': 'fullnat-health',
        accept: '*/*',
        connection: 'close',
      },
    });
  } catch (err) {
    process.nextTick(() => finish(`request not sent: ${describeError(err, 'request')}`));
    return end;
  }

  req.on('socket', (s) => {
    if (s.connecting) s.once('connect', () => (phase = 'response'));
    else phase = 'response';
  });
  // Stays attached after destroy(): a late 'error' must never be unhandled.
  req.on('error', (err) => finish(describeError(err, phase === 'connect' ? 'connect' : 'read')));
  req.on('response', (r) => {
    res = r;
    // Node reports a close mid-body as ECONNRESET "aborted", even after a clean FIN.
    r.on('error', (err) => finish(err.message === 'aborted' ? MID_BODY : describeError(err, 'read')));
    if (r.statusCode !== h.status) return finish(`status ${r.statusCode}, expected ${h.status}`);
    if (needle === null) return finish(null);
    phase = 'body';
    const lacks = `body lacks ${JSON.stringify(h.body)}`;
    let seen = 0;
    // The last needle.length - 1 bytes of what came before: a match may
    // straddle two chunks.
    let carry = Buffer.alloc(0);
    r.on('data', (chunk: Buffer) => {
      const room = HTTP_BODY_LIMIT - seen;
      const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
      seen += part.length;
      const hay = carry.length > 0 ? Buffer.concat([carry, part]) : part;
      if (hay.includes(needle)) return finish(null);
      if (seen >= HTTP_BODY_LIMIT) return finish(`${lacks} in the first ${HTTP_BODY_LIMIT / 1024} KiB`);
      carry = Buffer.from(hay.subarray(Math.max(0, hay.length - (needle.length - 1))));
    });
    r.on('end', () => finish(lacks));
    // Without 'end' first, the server closed mid-body.
    r.on('close', () => finish(r.complete ? lacks : MID_BODY));
  });
  req.end();
  return end;
};
