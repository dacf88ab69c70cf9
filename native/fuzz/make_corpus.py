#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_packet (native/fuzz/corpus/): valid frames
for the plan fuzz_packet.c builds, so the fuzzer starts on every path.

    python3 native/fuzz/make_corpus.py      # rewrites native/fuzz/corpus/*

Standard library only. Addresses as in fuzz_packet.c: client 198.18.0.1,
VIP 198.18.0.100 (tcp :80 :81, udp :53 :54), LIPs 198.19.0.10/.11 (ports
1024-1087), RS1 198.19.0.2, RS2 198.19.0.3; ring-port MACs 02:66:6e:00:00:0N.
The long-lived session the fuzzer keeps is 198.18.0.1:40000 -> VIP:80 ->
198.19.0.10:1024 -> RS1:8080.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, 'corpus')

WAN_MAC = bytes.fromhex('02666e000000')
LAN_MAC = bytes.fromhex('02666e000001')
CLIENT_MAC = bytes.fromhex('020000000101')
RS1_MAC = bytes.fromhex('020000000202')
BCAST = b'\xff' * 6


def ip(s):
    return bytes(int(x) for x in s.split('.'))


def csum(b):
    if len(b) % 2:
        b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff


def eth(dst, src, typ, body):
    f = dst + src + struct.pack('!H', typ) + body
    return f + b'\0' * max(0, 60 - len(f))


def ipv4(src, dst, proto, payload, ttl=64, ident=1, flags=0x4000, options=b''):
    hl = 20 + len(options)
    h = struct.pack('!BBHHHBBH4s4s', 0x40 | hl // 4, 0, hl + len(payload), ident, flags, ttl, proto, 0, ip(src), ip(dst)) + options
    h = h[:10] + struct.pack('!H', csum(h)) + h[12:]
    return h + payload


def tcp(src, dst, sport, dport, flags, seq, ack, payload=b'', options=b''):
    hl = 20 + len(options)
    t = struct.pack('!HHIIBBHHH', sport, dport, seq, ack, (hl // 4) << 4, flags, 65535, 0, 0) + options + payload
    ph = ip(src) + ip(dst) + struct.pack('!BBH', 0, 6, len(t))
    c = csum(ph + t)
    return t[:16] + struct.pack('!H', c) + t[18:]


def udp(src, dst, sport, dport, payload):
    u = struct.pack('!HHHH', sport, dport, 8 + len(payload), 0) + payload
    ph = ip(src) + ip(dst) + struct.pack('!BBH', 0, 17, len(u))
    c = csum(ph + u) or 0xffff
    return u[:6] + struct.pack('!H', c) + u[8:]


def icmp(typ, code, rest, body):
    m = struct.pack('!BBH', typ, code, 0) + rest + body
    return m[:2] + struct.pack('!H', csum(m)) + m[4:]


def tcp_frame(dmac, smac, src, dst, sport, dport, flags, seq, ack, payload=b'', ttl=64, ip_options=b'', flagsfrag=0x4000):
    return eth(dmac, smac, 0x0800, ipv4(src, dst, 6, tcp(src, dst, sport, dport, flags, seq, ack, payload, b'\x02\x04\x05\xb4' if flags == 0x02 else b''), ttl=ttl, options=ip_options, flags=flagsfrag))


def udp_frame(dmac, smac, src, dst, sport, dport, payload):
    return eth(dmac, smac, 0x0800, ipv4(src, dst, 17, udp(src, dst, sport, dport, payload), flags=0))


def arp(op, smac, sip, tmac, tip, dmac):
    a = struct.pack('!HHBBH6s4s6s4s', 1, 0x0800, 6, 4, op, smac, ip(sip), tmac, ip(tip))
    return eth(dmac, smac, 0x0806, a)


SYN, ACK, PSH, FIN, RST = 0x02, 0x10, 0x08, 0x01, 0x04
C, VIP, LIP, RS1 = '198.18.0.1', '198.18.0.100', '198.19.0.10', '198.19.0.2'

# What the gateway sent on the live session, as an ICMP error would quote it.
to_rs = ipv4(LIP, RS1, 6, tcp(LIP, RS1, 1024, 8080, PSH | ACK, 1001, 5001, b'x' * 100), ttl=63)
to_client = ipv4(VIP, C, 6, tcp(VIP, C, 80, 40000, PSH | ACK, 5001, 1001, b'y' * 100), ttl=63)

SEEDS = {
    'syn-to-vip': tcp_frame(WAN_MAC, CLIENT_MAC, C, VIP, 40001, 80, SYN, 1, 0),
    'syn-ack-to-lip': tcp_frame(LAN_MAC, RS1_MAC, RS1, LIP, 8080, 1024, SYN | ACK, 5000, 1001),
    'data-live-session': tcp_frame(WAN_MAC, CLIENT_MAC, C, VIP, 40000, 80, PSH | ACK, 1001, 5001, b'GET / HTTP/1.1\r\n\r\n'),
    'data-from-server': tcp_frame(LAN_MAC, RS1_MAC, RS1, LIP, 8080, 1024, PSH | ACK, 5001, 1019, b'HTTP/1.1 200 OK\r\n\r\n'),
    'fin-live-session': tcp_frame(WAN_MAC, CLIENT_MAC, C, VIP, 40000, 80, FIN | ACK, 1001, 5001),
    'syn-svc81-ip-options': tcp_frame(WAN_MAC, CLIENT_MAC, '198.18.0.77', VIP, 40002, 81, SYN, 9, 0, ip_options=b'\x01\x01\x01\x01'),
    'udp-to-vip-53': udp_frame(WAN_MAC, CLIENT_MAC, C, VIP, 5000, 53, b'query'),
    'udp-to-vip-54-nat': udp_frame(WAN_MAC, CLIENT_MAC, C, VIP, 5001, 54, b'nat'),
    'udp-from-rs': udp_frame(LAN_MAC, RS1_MAC, RS1, LIP, 5353, 1025, b'answer'),
    'arp-request-vip': arp(1, CLIENT_MAC, C, b'\0' * 6, VIP, BCAST),
    'arp-reply-rs1': arp(2, RS1_MAC, RS1, LAN_MAC, '198.19.0.254', LAN_MAC),
    'icmp-echo-vip': eth(WAN_MAC, CLIENT_MAC, 0x0800, ipv4(C, VIP, 1, icmp(8, 0, struct.pack('!HH', 1, 1), b'ping'))),
    'icmp-frag-needed-to-lip': eth(LAN_MAC, RS1_MAC, 0x0800, ipv4('198.19.0.1', LIP, 1, icmp(3, 4, struct.pack('!HH', 0, 1280), to_rs[:548]), flags=0)),
    'icmp-port-unreach-to-vip': eth(WAN_MAC, CLIENT_MAC, 0x0800, ipv4(C, VIP, 1, icmp(3, 3, b'\0' * 4, to_client[:28]), flags=0)),
    'icmp-time-exceeded-to-lip': eth(LAN_MAC, RS1_MAC, 0x0800, ipv4('198.19.0.1', LIP, 1, icmp(11, 0, b'\0' * 4, to_rs[:48]), flags=0)),
    'fragment-to-vip': tcp_frame(WAN_MAC, CLIENT_MAC, C, VIP, 40003, 80, SYN, 1, 0, flagsfrag=0x2000),
    'broadcast-syn': tcp_frame(BCAST, CLIENT_MAC, '198.18.0.99', VIP, 40004, 80, SYN, 1, 0),
    # TTL expiry (answered with time exceeded), new flow and live session.
    'ttl1-syn-to-vip': tcp_frame(WAN_MAC, CLIENT_MAC, C, VIP, 40005, 80, SYN, 1, 0, ttl=1),
    'ttl1-live-session': tcp_frame(WAN_MAC, CLIENT_MAC, C, VIP, 40000, 80, PSH | ACK, 1001, 5001, b'x' * 40, ttl=1),
    # NAT mode (udp :54 -> RS2:5454): a server-side router's error goes to the client's own address.
    'icmp-port-unreach-nat-to-client': eth(LAN_MAC, RS1_MAC, 0x0800, ipv4('198.19.0.1', C, 1, icmp(3, 3, b'\0' * 4, ipv4(C, '198.19.0.3', 17, udp(C, '198.19.0.3', 5001, 5454, b'nat'), ttl=63)), flags=0)),
}

if __name__ == '__main__':
    os.makedirs(OUT, exist_ok=True)
    for name, frame in SEEDS.items():
        with open(os.path.join(OUT, name), 'wb') as f:
            f.write(frame)
    print('wrote %d seeds to %s' % (len(SEEDS), OUT))
