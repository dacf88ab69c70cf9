// Tiny real server for the demo and the end-to-end tests: answers every request
// with who it is and which peer address/port it saw (a LIP, behind FullNAT).
//
//   node dist/src/demo/http-server.js --name rs1 --port 8080 [--host 0.0.0.0]
//
// `?delay_ms=N` holds the answer N ms (at most 10 s) so tests can keep many
// connections open at once. Prints "listening" on stdout when ready.

import http from 'node:http';
import { parseArgs } from 'node:util';

export interface ServerReply {
  server: string;
  client: string;
  client_port: number;
}

function main(): void {
  const { values } = parseArgs({
    options: {
      name: { type: 'string' },
      port: { type: 'string', default: '8080' },
      host: { type: 'string', default: '0.0.0.0' },
    },
  });
  const name = values.name;
  const port = Number(values.port);
  if (!name || !Number.isInteger(port) || port < 1 || port > 65535) {
    process.stderr.write('usage: http-server --name NAME --port PORT [--host ADDR]\n');
    process.exit(2);
  }

  const server = http.createServer((req, res) => {
    const reply: ServerReply = {
      server: name,
      client: (req.socket.remoteAddress ?? '').replace(/^::ffff:/, ''),
      client_port: req.socket.remotePort ?? 0,
    };
    const delay = Math.min(Number(new URL(req.url ?? '/', 'http://x').searchParams.get('delay_ms') ?? 0) || 0, 10_000);
    const body = JSON.stringify(reply) + '\n';
    const send = (): void => {
      res.writeHead(200, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        connection: 'close',
      });
      res.end(body);
    };
    if (delay > 0) setTimeout(send, delay);
    else send();
  });
  server.keepAliveTimeout = 0;
  server.listen({ port, host: values.host, backlog: 1024 }, () => {
    process.stdout.write(`listening ${values.host}:${port} as ${name}\n`);
  });
  server.on('error', (e) => {
    process.stderr.write(`http-server ${name}: ${e.message}\n`);
    process.exit(1);
  });
  const stop = (): void => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
    setTimeout(() => process.exit(0), 1000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (require.main === module) main();
