/* SPDX-License-Identifier: Apache-2.0 */
/* Background work on a child's watchdog thread, stopped before the child's
 * memory goes. httpd 2.4 neither stops nor joins a child's watchdog
 * threads before it destroys the child pool and calls exit(): a refresh
 * still running then would use freed stores, sockets and locks, and
 * libraries already torn down by exit handlers (seen as a child segfault or
 * an ASan double free at stop). The gate closes in the child pool's
 * pre-cleanup: it raises b2c_stopping (the transfer in flight is cancelled
 * within about a second), waits for the tick in flight, and later ticks do
 * nothing. httpd glue shared by both modules. */
#ifndef B2C_BACKGROUND_H
#define B2C_BACKGROUND_H

#include <httpd.h>

typedef struct b2c_background b2c_background_t;

/* In post_config: a child (not singleton) watchdog named name ticks the
 * gate *slot (the module's, set by b2c_background_open in each child)
 * every interval. 1 registered, 0 when mod_watchdog is not loaded. */
int b2c_background_register(apr_pool_t *pconf, const char *name,
                            apr_interval_time_t interval,
                            b2c_background_t *const *slot);

/* One tick of a module's background work; p is cleared after it. */
typedef void b2c_background_fn(void *baton, server_rec *s, apr_pool_t *p);

/* In child_init: a gate for fn(baton, s, ...), closed when pchild is
 * destroyed. The gate itself outlives pchild (the watchdog thread may
 * still call b2c_background_tick after that). */
apr_status_t b2c_background_open(apr_pool_t *pchild, server_rec *s,
                                 b2c_background_fn *fn, void *baton,
                                 b2c_background_t **out);

#endif
