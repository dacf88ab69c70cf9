/* Sessions of a real server / a service over all workers, for connection
 * limits (max_conn). Declared apart from dp.h so pickers need no global state. */
#ifndef FN_LOAD_H
#define FN_LOAD_H

#include <stdint.h>

/* Not inline: each sums every worker's counter, and they are only called
 * when a limit is set (fn_rs_full, admission's service check), so a call
 * costs nothing on the common path and scheduler.h stays free of dp.h. */
uint32_t fn_rs_load(uint32_t id);
uint32_t fn_svc_load(uint32_t id);

#endif
