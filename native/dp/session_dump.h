/* The session-dump mailbox, worker side (session_dump.c). */
#ifndef FN_SESSION_DUMP_H
#define FN_SESSION_DUMP_H

#include <stdint.h>

struct fn_worker;

/* Session listing for the main thread, a slice per loop so a big table
 * never stalls forwarding. Called while w->dump.state is 1; sets it to 2 when the listing is done. */
void fn_session_dump_step(struct fn_worker *w, uint64_t now);

#endif
