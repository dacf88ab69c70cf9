// Config loader: values and defaults, file:line:col errors for schema,
// YAML and cross-field problems, and the IPv4/CIDR helpers.
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { loadConfig, parseConfig } from '../../src/config/load';
import { ConfigError } from '../../src/config/errors';
import { formatIPv4, inSubnet, parseCidr, parseIPv4 } from '../../src/config/net';

// Runs from dist/test/unit; fixtures stay in the source tree.
const FIXTURES = path.resolve(__dirname, '../../../test/fixtures/config');
const fixture = (name: string): string => path.join(FIXTURES, name);

/** Loads a fixture that must fail; returns its formatted lines with the directory stripped. */
function errorsOf(name: string): string[] {
  try {
    loadConfig(fixture(name));
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected ConfigError, got ${String(e)}`);
    assert.equal(e.message, e.format());
    return e.format().split('\n').map((l) => l.slice(FIXTURES.length + 1));
  }
  assert.fail(`${name} loaded without errors`);
}

/** Asserts one error line starts with PREFIX (file:line:col: path:) and contains TEXT. */
function assertHas(lines: string[], prefix: string, text: string): void {
  const hit = lines.find((l) => l.startsWith(prefix));
  assert.ok(hit, `no error starting "${prefix}" in:\n${lines.join('\n')}`);
  assert.ok(hit.includes(text), `"${hit}" lacks "${text}"`);
}

describe('config: good files', () => {
  test('a full config loads with the values written', () => {
    const c = loadConfig(fixture('full.yaml'));
    assert.deepEqual(c.dpdk, {
      lcores: { main: 0, workers: [1, 2], cpus: null },
      memory_mb: 1024,
      hugepages: true,
      file_prefix: 'fullnat-test',
      mbufs: 32767,
      rx_desc: 2048,
      tx_desc: 512,
      idle_sleep_us: 50,
      extra_args: ['--log-level=lib.eal:debug'],
    });
    assert.deepEqual(
      c.ports.map((p) => [p.name, p.device, p.addresses]),
      [
        ['wan', 'net_af_packet0,iface=gw0', ['198.18.0.254/24']],
        ['lan', '0000:03:00.0', ['198.19.0.10/24', '198.19.0.11/24']],
        ['bench', 'ring:bench0', []],
      ],
    );
    assert.deepEqual(c.routes, [{ to: '198.19.128.0/20', via: '198.19.0.1', port: 'lan' }]);
    assert.deepEqual(c.local_addresses['lan-pool'], { port: 'lan', addresses: ['198.19.0.10', '198.19.0.11'], ports: [2000, 60000] });
    assert.deepEqual(c.local_addresses['spare']?.ports, [1024, 65535]);
    assert.deepEqual(c.sessions, {
      max: 2000000,
      max_half_open: null,
      half_open_full: 'evict_oldest',
      max_per_client: 0,
      timeouts: { tcp_syn: 10, tcp_established: 600, tcp_fin: 20, tcp_time_wait: 2, tcp_close: 3, udp: 30 },
    });
    assert.equal(c.services.length, 2);
    assert.deepEqual(c.services[0], {
      name: 'web',
      vip: '198.18.0.100',
      port: 80,
      protocol: 'tcp',
      scheduler: 'wrr',
      removed_servers: 'drain',
      forwarding: 'fullnat',
      syn_proxy: false,
      max_conn: 0,
      allow: [],
      deny: [],
      health: null,
      hash_fields: null,
      hash_seed: 0,
      maglev_size: 65537,
      persistence: null,
      local_addresses: 'lan-pool',
      real_servers: [
        { address: '198.19.0.2', port: 8080, weight: 3, max_conn: 0, health: null },
        { address: '198.19.130.7', port: 8080, weight: 0, max_conn: 0, health: null },
      ],
    });
    assert.equal(c.services[1]?.scheduler, 'rr');
    assert.equal(c.services[1]?.real_servers[0]?.weight, 1);
    assert.deepEqual(c.stats, { interval_s: 0, listen: '127.0.0.1:9901', allow_remote: false });
    assert.deepEqual(c.log, { level: 'debug' });
  });

  test('a minimal config gets every default', () => {
    const c = loadConfig(fixture('minimal.yaml'));
    assert.deepEqual(c, {
      dpdk: {
        lcores: { main: 0, workers: [1], cpus: null },
        memory_mb: 512,
        hugepages: false,
        file_prefix: null,
        mbufs: 16383,
        rx_desc: 1024,
        tx_desc: 1024,
        idle_sleep_us: 0,
        extra_args: [],
      },
      ports: [{ name: 'wan', device: 'ring:r0', addresses: [], steering: 'auto', kernel_interface: null }],
      routes: [],
      local_addresses: {},
      sessions: {
        max: 1048576,
        max_half_open: null,
        half_open_full: 'evict_oldest',
        max_per_client: 0,
        timeouts: { tcp_syn: 30, tcp_established: 900, tcp_fin: 30, tcp_time_wait: 5, tcp_close: 5, udp: 60 },
      },
      services: [],
      icmp: { rate_per_s: 100, min_path_mtu: 1280, hand_on_rate_per_s: 1000 },
      stats: { interval_s: 10, listen: '127.0.0.1:9901', allow_remote: false },
      control: { socket: '/run/fullnat/fullnat.sock', rate_per_s: 10000 },
      log: { level: 'info' },
    });
  });

  test('the result is deep-frozen', () => {
    const c = loadConfig(fixture('full.yaml'));
    assert.ok(Object.isFrozen(c));
    assert.ok(Object.isFrozen(c.dpdk.lcores.workers));
    assert.ok(Object.isFrozen(c.services[0]?.real_servers[0]));
    assert.throws(() => {
      (c.dpdk.lcores.workers as number[]).push(9);
    }, TypeError);
  });

  test('defaults are fresh per load (freezing one result does not leak into the next)', () => {
    const a = loadConfig(fixture('minimal.yaml'));
    const b = loadConfig(fixture('minimal.yaml'));
    assert.notEqual(a.routes, b.routes);
    assert.notEqual(a.dpdk.extra_args, b.dpdk.extra_args);
  });
});

describe('config: schema errors', () => {
  test('a typo in a key is reported at that key, with its path and a suggestion', () => {
    const lines = errorsOf('typo-key.yaml');
    assertHas(lines, 'typo-key.yaml:13:5: services[0].protcol: ', 'got unknown key "protcol" (did you mean "protocol"?)');
    // the real key is then missing: reported at the service map (its first key, line 10)
    assertHas(lines, 'typo-key.yaml:10:5: services[0].protocol: ', 'expected one of tcp, udp, got nothing (required key is missing)');
    assert.equal(lines.length, 2);
  });

  test('a wrong type names line:col, the path, what was expected and what was found', () => {
    assert.deepEqual(errorsOf('wrong-type.yaml'), ['wrong-type.yaml:12:11: services[0].port: expected number, got string "eighty"']);
  });

  test('all errors are reported at once, in file order', () => {
    const lines = errorsOf('many-errors.yaml');
    const expected: [string, string][] = [
      ['many-errors.yaml:2:32: dpdk.lcores.workers[0]: ', 'other than the main lcore 1'],
      ['many-errors.yaml:2:38: dpdk.lcores.workers[2]: ', 'expected unique worker lcores, got 2 twice'],
      ['many-errors.yaml:3:14: dpdk.memory_mb: ', 'expected an integer in 64..1048576, got 32'],
      ['many-errors.yaml:4:12: dpdk.rx_desc: ', 'expected a power of two in 64..16384, got 1000'],
      ['many-errors.yaml:5:14: dpdk.hugepages: ', 'expected boolean, got string "yes"'],
      ['many-errors.yaml:7:11: ports[0].name: ', 'got "WAN"'],
      ['many-errors.yaml:8:13: ports[0].device: ', 'got "eth0"'],
      ['many-errors.yaml:9:17: ports[0].addresses[0]: ', 'not the network or broadcast address'],
      ['many-errors.yaml:9:32: ports[0].addresses[1]: ', 'got "198.18.0.300/24"'],
      ['many-errors.yaml:10:5: ports[1].name: ', 'expected string, got nothing (required key is missing)'],
      ['many-errors.yaml:12:11: routes[0].to: ', 'host bits zero (198.19.1.0/24)'],
      ['many-errors.yaml:14:33: local_addresses.pool.addresses: ', 'expected a non-empty list, got an empty list'],
      ['many-errors.yaml:14:44: local_addresses.pool.ports: ', 'lo <= hi, got [70000, 1]'],
      ['many-errors.yaml:14:45: local_addresses.pool.ports[0]: ', 'expected an integer in 1..65535, got 70000'],
      ['many-errors.yaml:16:24: sessions.timeouts.tcp_syn: ', 'expected an integer >= 1, got 0'],
      ['many-errors.yaml:16:27: sessions.timeouts.udp_idle: ', 'got unknown key "udp_idle"'],
      ['many-errors.yaml:20:11: services[0].port: ', 'in 1..65535, got 0'],
      ['many-errors.yaml:21:15: services[0].protocol: ', 'expected one of tcp, udp, got string "sctp"'],
      ['many-errors.yaml:22:16: services[0].scheduler: ', 'expected one of rr, wrr, lc, wlc, sh, mh, got string "maglev"'],
      ['many-errors.yaml:24:19: services[0].real_servers: ', 'non-empty list'],
      ['many-errors.yaml:25:22: stats.interval_s: ', 'in 0..3600, got -1'],
      ['many-errors.yaml:25:26: stats.lisen: ', 'got unknown key "lisen"'],
      ['many-errors.yaml:26:15: log.level: ', 'got string "verbose"'],
    ];
    assert.equal(lines.length, expected.length, lines.join('\n'));
    expected.forEach(([prefix, text], i) => {
      assert.ok(lines[i]!.startsWith(prefix) && lines[i]!.includes(text), `line ${i}: "${lines[i]}" vs ${prefix}…${text}`);
    });
  });

  test('issues carry structured fields as well as the formatted line', () => {
    try {
      parseConfig('dpdk:\n  lcores: { main: 0, workers: [1] }\nports:\n  - { name: wan, device: "ring:r0", mtu: 1500 }\n', 'inline.yaml');
      assert.fail('accepted an unknown key');
    } catch (e) {
      assert.ok(e instanceof ConfigError);
      assert.deepEqual(e.issues, [
        {
          file: 'inline.yaml',
          line: 4,
          col: 37,
          path: 'ports[0].mtu',
          message: 'expected one of name, device, addresses, steering, kernel_interface, got unknown key "mtu"',
        },
      ]);
    }
  });

  test('a bad pool name is reported at the key', () => {
    const text = 'dpdk: { lcores: { main: 0, workers: [1] } }\nports: [{ name: wan, device: "ring:r0" }]\nlocal_addresses:\n  "bad name": { port: wan, addresses: [198.18.0.1] }\n';
    assert.throws(() => parseConfig(text, 'p.yaml'), { message: /^p\.yaml:4:3: local_addresses\["bad name"\]: expected a pool name/ });
  });

  test('an empty or non-map document is rejected at 1:1', () => {
    assert.throws(() => parseConfig('', 'e.yaml'), { message: 'e.yaml:1:1: expected map, got an empty document' });
    assert.throws(() => parseConfig('- 1\n', 'e.yaml'), { message: 'e.yaml:1:1: expected map, got a list' });
  });

  test('an unreadable file is a ConfigError naming the file', () => {
    assert.throws(() => loadConfig(fixture('does-not-exist.yaml')), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.match(e.message, /does-not-exist\.yaml: cannot read config: ENOENT/);
      return true;
    });
  });
});

describe('config: YAML errors', () => {
  test('a syntax error has file:line:col', () => {
    assert.deepEqual(errorsOf('syntax-error.yaml'), ['syntax-error.yaml:3:14: YAML syntax error: Nested mappings are not allowed in compact mappings']);
  });

  test('a duplicate key is a YAML error at the second key', () => {
    assert.throws(() => parseConfig('dpdk:\n  lcores: { main: 0, workers: [1] }\n  lcores: { main: 0, workers: [1] }\n', 'd.yaml'), {
      message: /^d\.yaml:3:3: YAML syntax error: Map keys must be unique/,
    });
  });

  test('a second document is refused', () => {
    assert.throws(() => parseConfig('a: 1\n---\nb: 2\n', 'm.yaml'), { message: /^m\.yaml:2:1: YAML syntax error: a config file holds exactly one document/ });
  });

  test('nesting deeper than 64 [ or { is refused before parsing, at the bracket that goes too deep', () => {
    // 2,000 levels once aborted V8 from inside the YAML parser.
    assert.throws(() => parseConfig(`dpdk:\n  x: ${'['.repeat(2000)}${']'.repeat(2000)}\n`, 'n.yaml'), {
      message: /^n\.yaml:2:70: expected at most 64 nested \[ \] or \{ \}, got deeper nesting here/,
    });
    assert.throws(() => parseConfig(`a: ${'{b: '.repeat(65)}1${'}'.repeat(65)}\n`, 'n.yaml'), { message: /^n\.yaml:1:(\d+): expected at most 64 nested/ });
    // Brackets inside quoted scalars and comments do not count; 64 real levels still parse (and fail the schema as usual).
    const quoted = `dpdk: "${'['.repeat(100)}" # ${'{'.repeat(100)}\nx: '${'{'.repeat(100)}'\ny: ${'['.repeat(64)}${']'.repeat(64)}\n`;
    assert.throws(() => parseConfig(quoted, 'q.yaml'), (e: unknown) => e instanceof ConfigError && !/nested/.test(e.message) && /^q\.yaml:1:7: dpdk:/m.test(e.message));
  });

  test('reports are capped: the first 50 problems, then how many more', () => {
    const text = Array.from({ length: 5000 }, (_, i) => `k${i}: ${i}`).join('\n');
    try {
      parseConfig(text, 'many.yaml');
      assert.fail('loaded');
    } catch (e) {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.issues.length, 50);
      assert.ok(e.total > 5000, `total ${e.total}`);
      const lines = e.format().split('\n');
      assert.equal(lines.length, 51);
      assert.equal(lines[50], `many.yaml: and ${e.total - 50} more problems (fix the ones above first)`);
      assert.equal(e.message, e.format());
    }
  });
});

describe('config: cross-field rules', () => {
  test('port names and devices are unique (vdev by name, PCI in canonical form, rings by name)', () => {
    assert.deepEqual(errorsOf('dup-port.yaml'), [
      'dup-port.yaml:7:13: ports[1].device: expected a unique device, got vdev "net_af_packet0" again (first at ports[0].device)',
      'dup-port.yaml:8:11: ports[2].name: expected a unique port name, got "wan" again (first at ports[0].name)',
      'dup-port.yaml:11:13: ports[3].device: expected a unique device, got pci "0000:03:00.0" again (first at ports[2].device)',
      'dup-port.yaml:15:13: ports[5].device: expected a unique device, got ring "r0" again (first at ports[4].device)',
    ]);
  });

  test('service names and (vip, port, protocol) are unique; another protocol is fine', () => {
    assert.deepEqual(errorsOf('dup-service.yaml'), [
      'dup-service.yaml:16:11: services[1].name: expected a unique service name, got "web" again (first at services[0].name)',
      'dup-service.yaml:22:5: services[2]: expected a unique (vip, port, protocol), got 198.18.0.100:80/tcp again (first at services[0])',
    ]);
  });

  test('LIPs unique within a pool, real servers (address, port) unique within a service', () => {
    assert.deepEqual(errorsOf('dup-in-list.yaml'), [
      'dup-in-list.yaml:8:60: local_addresses.pool.addresses[2]: expected unique addresses, got 198.18.0.10 twice',
      'dup-in-list.yaml:18:9: services[0].real_servers[2]: expected unique (address, port), got 198.18.0.2:8080 again (first at real_servers[0])',
    ]);
  });

  test('syn_proxy is for TCP services only', () => {
    assert.deepEqual(errorsOf('syn-proxy-udp.yaml'), [
      'syn-proxy-udp.yaml:21:16: services[1].syn_proxy: expected false for a udp service (a SYN proxy is TCP only), got true',
    ]);
  });

  test('references to ports and pools must exist', () => {
    assert.deepEqual(errorsOf('bad-refs.yaml'), [
      'bad-refs.yaml:8:50: routes[0].port: expected the name of a port (wan), got "lan"',
      'bad-refs.yaml:10:17: local_addresses.pool.port: expected the name of a port (wan), got "lan"',
      'bad-refs.yaml:16:22: services[0].local_addresses: expected the name of a pool in local_addresses (pool), got "lan-pool"',
    ]);
  });

  test('a route gateway lies in its port subnet; every real server has a route', () => {
    const lines = errorsOf('routes.yaml');
    assertHas(lines, 'routes.yaml:12:33: routes[1].via: ', 'expected a gateway inside a subnet of port "lan" (198.19.0.0/24), got 198.18.0.1');
    assertHas(lines, 'routes.yaml:24:20: services[0].real_servers[2].address: ', 'no route to real server 198.19.200.2');
    assertHas(lines, 'routes.yaml:26:20: services[0].real_servers[4].address: ', 'no route to real server 198.19.1.2');
    // RS on a port subnet (198.18.0.9, 198.19.0.2) or behind route[0] (198.19.70.2) are fine
    assert.equal(lines.length, 3, lines.join('\n'));
  });

  test('LIPs are unique across pools; a pool has at least one lport per worker', () => {
    assert.deepEqual(errorsOf('pools.yaml'), [
      'pools.yaml:9:44: local_addresses.b.addresses[1]: expected a local address unique across pools, got 198.19.0.11 already in pool "a"',
      'pools.yaml:10:52: local_addresses.c.ports: expected a range of at least 4 ports (one per worker), got [6000, 6002] (3)',
    ]);
  });
});

describe('net helpers', () => {
  test('parseIPv4 / formatIPv4 round-trip and edges', () => {
    assert.equal(parseIPv4('0.0.0.0'), 0);
    assert.equal(parseIPv4('255.255.255.255'), 0xffffffff);
    assert.equal(parseIPv4('198.18.0.1'), 0xc6120001);
    assert.equal(formatIPv4(0xc6120001), '198.18.0.1');
    assert.equal(formatIPv4(0xffffffff), '255.255.255.255');
    for (const a of ['1.2.3.4', '10.0.0.255', '198.19.255.0']) assert.equal(formatIPv4(parseIPv4(a)), a);
  });

  test('parseIPv4 rejects malformed addresses, including octal-looking octets', () => {
    for (const bad of ['', '1.2.3', '1.2.3.4.5', '256.0.0.1', '1.2.3.-1', '01.2.3.4', '1.2.3.4 ', 'a.b.c.d', '1..2.3', '0x1.2.3.4']) {
      assert.throws(() => parseIPv4(bad), /invalid IPv4/, bad);
    }
    assert.throws(() => formatIPv4(2 ** 32));
    assert.throws(() => formatIPv4(-1));
    assert.throws(() => formatIPv4(1.5));
  });

  test('parseCidr gives address, prefix, network and mask', () => {
    assert.deepEqual(parseCidr('198.18.0.1/24'), { addr: 0xc6120001, prefixLen: 24, network: 0xc6120000, mask: 0xffffff00 });
    assert.deepEqual(parseCidr('0.0.0.0/0'), { addr: 0, prefixLen: 0, network: 0, mask: 0 });
    assert.deepEqual(parseCidr('10.1.2.3/32'), { addr: 0x0a010203, prefixLen: 32, network: 0x0a010203, mask: 0xffffffff });
    assert.equal(parseCidr('198.19.130.7/15').network, parseIPv4('198.18.0.0'));
    for (const bad of ['198.18.0.1', '198.18.0.1/33', '198.18.0.1/', '198.18.0.1/024', '198.18.0.1/-1', '1.2.3/8']) {
      assert.throws(() => parseCidr(bad), /invalid CIDR|invalid IPv4/, bad);
    }
  });

  test('inSubnet', () => {
    assert.equal(inSubnet('198.18.0.77', '198.18.0.254/24'), true);
    assert.equal(inSubnet('198.18.1.1', '198.18.0.254/24'), false);
    assert.equal(inSubnet('198.19.255.255', '198.18.0.0/15'), true);
    assert.equal(inSubnet('198.20.0.0', '198.18.0.0/15'), false);
    assert.equal(inSubnet('203.0.113.9', '0.0.0.0/0'), true);
    assert.equal(inSubnet(parseIPv4('10.0.0.1'), parseCidr('10.0.0.1/32')), true);
    assert.equal(inSubnet('10.0.0.2', '10.0.0.1/32'), false);
  });
});
