// The gateway's local control endpoint: HTTP over a unix socket (file
// permissions decide who may ask). Routes are "METHOD /path" (a bare "/path"
// is GET); a handler returns the JSON body, or a promise of it; a handler's
// { status } field, when present, sets the HTTP status.
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as path from 'node:path';

export type Handler = (query: URLSearchParams) => unknown;

/** Is something answering on this unix socket? */
function alive(socket: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(socket);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

export class ControlServer {
  private server: http.Server | null = null;

  constructor(
    private readonly socket: string,
    private readonly routes: Record<string, Handler>,
  ) {}

  async listen(): Promise<void> {
    fs.mkdirSync(path.dirname(this.socket), { recursive: true, mode: 0o750 });
    if (fs.existsSync(this.socket)) {
      if (await alive(this.socket)) {
        throw new Error(`control socket ${this.socket} is in use by another gateway; set control.socket to another path`);
      }
      fs.unlinkSync(this.socket); // left by a gateway that died
    }
    const server = http.createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://local');
      const route = this.routes[`${req.method} ${url.pathname}`] ?? (req.method === 'GET' ? this.routes[url.pathname] : undefined);
      const reply = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (!route) {
        reply(404, { error: `no such endpoint: ${req.method} ${url.pathname}`, endpoints: Object.keys(this.routes) });
        return;
      }
      req.resume(); // bodies are not used: drain them
      Promise.resolve()
        .then(() => route(url.searchParams))
        .then(
          (body) => reply(typeof (body as { status?: unknown })?.status === 'number' ? (body as { status: number }).status : 200, body),
          (e: Error) => reply(500, { error: e.message }),
        );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.socket, () => resolve());
    });
    fs.chmodSync(this.socket, 0o660);
    server.unref();
    this.server = server;
  }

  /** Stops listening and removes the socket, but only one this server owns:
   * a start that failed because another gateway holds the path must not
   * cut that gateway off. */
  close(): void {
    if (!this.server) return;
    this.server.close();
    this.server = null;
    try {
      fs.unlinkSync(this.socket);
    } catch {
      // already gone
    }
  }
}

/** GET (or POST) path from a gateway's control socket, parsed as JSON. */
export function request(socket: string, urlPath: string, timeoutMs = 5000, method: 'GET' | 'POST' = 'GET'): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = http.request({ socketPath: socket, path: urlPath, timeout: timeoutMs, method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => {
        try {
          const parsed = JSON.parse(body) as unknown;
          // Answers that carry their own verdict (reload: { ok, errors }) are returned as they are.
          if (res.statusCode !== 200 && !(parsed && typeof parsed === 'object' && 'ok' in parsed)) {
            reject(new Error((parsed as { error?: string }).error ?? `HTTP ${res.statusCode}`));
          } else resolve(parsed);
        } catch (e) {
          reject(e as Error);
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${socket} within ${timeoutMs} ms`)));
    req.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT' || e.code === 'ECONNREFUSED') {
        reject(new Error(`no gateway is running on ${socket} (${e.code}); start one with fullnat start -c FILE`));
      } else reject(e);
    });
    req.end();
  });
}
