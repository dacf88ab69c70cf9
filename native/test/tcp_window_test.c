/* Sequence tracking (tcp_state.h): which RSTs, FINs and handshake segments
 * may act on a session, how ACKs move the expected sequence number, and the
 * window scale option walk. Pure functions on a struct fn_session. */
#include <string.h>

#include "check.h"
#include "tcp_state.h"

static const uint8_t R = RTE_TCP_RST_FLAG, F = RTE_TCP_FIN_FLAG, S = RTE_TCP_SYN_FLAG, A = RTE_TCP_ACK_FLAG;

/* A session through its handshake: client ISN c, server ISN s, scales. */
static void established(struct fn_session *x, uint32_t c, uint32_t s, uint8_t wc, uint8_t ws)
{
	memset(x, 0, sizeof(*x));
	x->state = FN_TCP_SYN_SENT;
	fn_tcp_syn(x, FN_DIR_CLIENT, c, wc);
	fn_tcp_syn(x, FN_DIR_SERVER, s, ws);
	fn_tcp_acked(x, FN_DIR_CLIENT, s + 1);
	x->state = FN_TCP_ESTABLISHED;
}

static void test_windows(void)
{
	struct fn_session x;
	established(&x, 0x10000000, 0xfffffff0, FN_WS_NONE, FN_WS_NONE);
	CHECK(x.wscale == 0, "no scale offered: none");
	CHECK(x.seq_hi[FN_DIR_SERVER] == 0xffff, "server ISN + 1 before the wrap");
	CHECK(fn_tcp_acceptable(&x, FN_DIR_CLIENT, R, 0x10000001, 0), "RST at the next seq");
	CHECK(fn_tcp_acceptable(&x, FN_DIR_CLIENT, R, 0x10000001 + 65535, 0), "RST a window ahead");
	CHECK(!fn_tcp_acceptable(&x, FN_DIR_CLIENT, R, 0x10000001 + 0x20000, 0), "RST two blocks ahead");
	CHECK(!fn_tcp_acceptable(&x, FN_DIR_CLIENT, R, 0x0fff0000, 0), "RST a block behind");
	CHECK(!fn_tcp_acceptable(&x, FN_DIR_CLIENT, R, 0xdeadbeef, 0), "RST anywhere");
	CHECK(fn_tcp_acceptable(&x, FN_DIR_SERVER, R, 0xfffffff1, 0), "server RST at its next seq");
	CHECK(fn_tcp_acceptable(&x, FN_DIR_SERVER, R, 0x00000100, 0), "server RST across the wrap, in the window");
	CHECK(!fn_tcp_acceptable(&x, FN_DIR_SERVER, R, 0x00020000, 0), "server RST past the window across the wrap");
	CHECK(fn_tcp_acceptable(&x, FN_DIR_CLIENT, F | A, 0x0fff0000, 0), "FIN a window behind (retransmitted)");
	CHECK(!fn_tcp_acceptable(&x, FN_DIR_CLIENT, F | A, 0x0ffd0000, 0), "FIN three blocks behind");
	CHECK(!fn_tcp_acceptable(&x, FN_DIR_CLIENT, F | A, 0x90000000, 0), "FIN far off");
	CHECK(fn_tcp_acceptable(&x, FN_DIR_CLIENT, A, 0xdeadbeef, 0), "data is not judged");
	CHECK(fn_tcp_acceptable(&x, FN_DIR_CLIENT, S, 0xdeadbeef, 0), "a SYN acts on nothing here");

	/* ACKs move the window forward by at most the acker's window. */
	fn_tcp_acked(&x, FN_DIR_SERVER, 0x10000001 + 60000);
	fn_tcp_acked(&x, FN_DIR_SERVER, 0x10000001 + 120000);
	CHECK(x.seq_hi[FN_DIR_CLIENT] == (uint16_t)((0x10000001 + 120000) >> 16), "two ACKs in steps: followed");
	fn_tcp_acked(&x, FN_DIR_SERVER, 0x10000001);
	CHECK(x.seq_hi[FN_DIR_CLIENT] == (uint16_t)((0x10000001 + 120000) >> 16), "an old ACK does not move it back");
	fn_tcp_acked(&x, FN_DIR_SERVER, 0x50000000);
	CHECK(x.seq_hi[FN_DIR_CLIENT] == (uint16_t)((0x10000001 + 120000) >> 16), "a forged ACK far ahead does not move it");
	CHECK(!fn_tcp_acceptable(&x, FN_DIR_CLIENT, R, 0x50000000, 0), "so the RST that would follow it is out");
	CHECK(!fn_tcp_acceptable(&x, FN_DIR_CLIENT, R, 0x10000001, 0), "the ISN is behind the window now");

	/* Scales: both offered, each side's own; one offered, none. */
	established(&x, 0x10000000, 0x20000000, 7, 9);
	CHECK(fn_tcp_scale(&x, FN_DIR_CLIENT) == 7 && fn_tcp_scale(&x, FN_DIR_SERVER) == 9, "scales 7 and 9");
	CHECK(fn_tcp_acceptable(&x, FN_DIR_CLIENT, R, 0x10000001 + (65535u << 9) - 1, 0), "client RST within the server's window (scale 9)");
	CHECK(!fn_tcp_acceptable(&x, FN_DIR_CLIENT, R, 0x10000001 + (0x10000u << 9) + 0x20000, 0), "client RST past it");
	CHECK(fn_tcp_acceptable(&x, FN_DIR_SERVER, R, 0x20000001 + (65535u << 7) - 1, 0), "server RST within the client's window (scale 7)");
	CHECK(!fn_tcp_acceptable(&x, FN_DIR_SERVER, R, 0x20000001 + (0x10000u << 7) + 0x20000, 0), "server RST past it");
	established(&x, 0x10000000, 0x20000000, 7, FN_WS_NONE);
	CHECK(x.wscale == 0, "the server offered none: no scaling either way");
	established(&x, 0x10000000, 0x20000000, 0, 14);
	CHECK(fn_tcp_scale(&x, FN_DIR_CLIENT) == 0 && fn_tcp_scale(&x, FN_DIR_SERVER) == 14, "scale 0 is an offer");
}

static void test_handshake(void)
{
	struct fn_session x;
	memset(&x, 0, sizeof(x));
	x.state = FN_TCP_SYN_SENT;
	fn_tcp_syn(&x, FN_DIR_CLIENT, 0x7000ffff, FN_WS_NONE);
	CHECK(fn_tcp_acceptable(&x, FN_DIR_SERVER, R | A, 0, 0x70010000), "server RST-ACK acknowledging the SYN (ack past a block edge)");
	CHECK(!fn_tcp_acceptable(&x, FN_DIR_SERVER, R | A, 0, 0x12345678), "RST-ACK acknowledging something else");
	CHECK(!fn_tcp_acceptable(&x, FN_DIR_SERVER, R, 0, 0x70010000), "RST without ACK");
	CHECK(fn_tcp_acceptable(&x, FN_DIR_SERVER, S | A, 0x1234, 0x70010000), "SYN-ACK acknowledging the SYN");
	CHECK(!fn_tcp_acceptable(&x, FN_DIR_SERVER, S | A, 0x1234, 0x70020000), "SYN-ACK acknowledging something else");
	CHECK(fn_tcp_acceptable(&x, FN_DIR_SERVER, S, 0x1234, 0), "a bare server SYN (simultaneous open)");
	CHECK(fn_tcp_acceptable(&x, FN_DIR_CLIENT, R, 0x70010000, 0), "client RST at ISN + 1");
	CHECK(!fn_tcp_acceptable(&x, FN_DIR_CLIENT, R, 0x10000000, 0), "client RST elsewhere");
}

static void test_wscale_option(void)
{
	uint8_t b[60];
	struct rte_tcp_hdr *t = (struct rte_tcp_hdr *)b;
	uint8_t *o = b + sizeof(*t);
	memset(b, 0, sizeof(b));
	t->data_off = 5 << 4;
	CHECK(fn_tcp_wscale_opt(t) == FN_WS_NONE, "no options");
	const uint8_t linux_syn[] = {2, 4, 5, 180, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7};
	memcpy(o, linux_syn, sizeof(linux_syn));
	t->data_off = 10 << 4;
	CHECK(fn_tcp_wscale_opt(t) == 7, "MSS, SACK-permitted, timestamps, NOP, wscale 7");
	const uint8_t big[] = {3, 3, 20, 0};
	memcpy(o, big, sizeof(big));
	t->data_off = 6 << 4;
	CHECK(fn_tcp_wscale_opt(t) == 14, "above 14 counts as 14");
	const uint8_t cut[] = {1, 1, 1, 3};
	memcpy(o, cut, sizeof(cut));
	o[4] = 3; /* past the header: not read */
	CHECK(fn_tcp_wscale_opt(t) == FN_WS_NONE, "an option cut by the header end");
	const uint8_t eol[] = {0, 3, 3, 5};
	memcpy(o, eol, sizeof(eol));
	CHECK(fn_tcp_wscale_opt(t) == FN_WS_NONE, "after end of options");
	const uint8_t zero_len[] = {8, 0, 3, 3};
	memcpy(o, zero_len, sizeof(zero_len));
	CHECK(fn_tcp_wscale_opt(t) == FN_WS_NONE, "a zero length ends the walk");
}

void test_tcp_window(void)
{
	test_windows();
	test_handshake();
	test_wscale_option();
}
