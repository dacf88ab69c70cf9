/* The figures native/include/fn_consts.h states for TypeScript, held against the structs and
 * allocations they describe: a change here that the header does not follow fails the build. */
#include <stdint.h>

#include "fn_consts.h"
#include "half_open.h"
#include "session.h"
#include "synproxy.h"
#include "tcp_state.h"

_Static_assert(sizeof(struct fn_session) == FN_BYTES_SESSION, "struct fn_session (session.h keeps it one cache line)");
/* Buckets: a power of two >= 2 x max (session.c), so up to 4 per session. */
_Static_assert(4 * sizeof(*((struct fn_session_table *)0)->buckets) == FN_BYTES_HASH_BUCKETS, "hash buckets");
_Static_assert(sizeof(*((struct fn_session_table *)0)->free) == FN_BYTES_FREE_LIST, "free list entry");
/* The queue: a power of two >= max (half_open.c), so up to 2 per session. */
_Static_assert(2 * sizeof(*((struct fn_half_open *)0)->q) == FN_BYTES_HALF_OPEN_SLOT, "half-open queue slot");
_Static_assert(sizeof(struct fn_sp_side) == FN_BYTES_SYN_PROXY_SIDE, "struct fn_sp_side");
/* The TCP state machine's names are shown by position (`fullnat sessions`). */
_Static_assert(FN_TCP_NONE == 0 && FN_TCP_CLOSE == FN_NTCP_STATES - 1, "TCP states");
_Static_assert(FN_NTCP_STATES <= FN_UDP_STATE, "a TCP state never reads as FN_UDP_STATE");
