/* SPDX-License-Identifier: Apache-2.0 */
/* The shared cache both modules use: an httpd socache provider (shmcb on
 * one machine, redis or memcache for a fleet) plus a global mutex for
 * single-flight work among the processes of one machine. httpd glue shared
 * by both modules (httpd_glue/): compiled into each module with the httpd
 * headers, never into the httpd-free core library. It also adapts itself
 * to the core's single-flight seam (b2c_lease_cache_t). It never logs:
 * callers do. */
#ifndef B2C_SHARED_CACHE_H
#define B2C_SHARED_CACHE_H

#include <httpd.h>
#include <http_config.h>

#include "b2c_seal.h"
#include "b2c_single_flight.h"

typedef struct b2c_shared_cache b2c_shared_cache_t;

/* "shmcb", "shmcb:ARGS", "redis:HOST:PORT[,HOST:PORT]", "memcache:...",
 * or "none". Called at config time; the provider module must be loaded. */
const char *b2c_shared_cache_configure(apr_pool_t *p, const char *spec,
                                       b2c_shared_cache_t **out);

/* The key directive's arguments (file:PATH [file:OLD ...], relative to
 * ServerRoot; read now, at config time, by root): the ring in *ring, or the
 * error text. A key file readable by group or others is logged as a
 * warning starting with warn_logno. */
const char *b2c_shared_cache_key_directive(cmd_parms *cmd, int argc,
                                           char *const argv[],
                                           const char *warn_logno,
                                           const b2c_seal_ring_t **ring);

/* NULL when c may run with ring (c NULL, shmcb, or a ring given), else the
 * startup error: a cache server outside httpd needs key_directive. */
const char *b2c_shared_cache_check_ring(apr_pool_t *p,
                                        const b2c_shared_cache_t *c,
                                        const b2c_seal_ring_t *ring,
                                        const char *cache_directive,
                                        const char *key_directive);

/* Entries refused by this process so far (forged, other key, truncated). */
apr_uint64_t b2c_shared_cache_refused(void);

/* Register the mutex types PREFIX-fetch (single-flight) and PREFIX-cache
 * (shmcb's lock) with httpd's Mutex directive (pre_config). */
void b2c_shared_cache_register_mutex(apr_pool_t *pconf, const char *prefix);

/* post_config: the module's cache, ready for its children. With no cache
 * directive (directive_set 0) *c becomes default_spec when its provider is
 * loaded, else NULL (per process only) with *fell_back set for the
 * caller's notice. Every value is sealed with ring (context: the cache key
 * string) and every value read is opened; one that does not open is
 * treated as missing, counted and logged at most once a minute per
 * process, the line starting with seal_logno (the caller's B2CLOGNO). NULL
 * ring: values are stored as they are (only for a cache local to the
 * machine). name: the socache consumer name (<= 16 chars); mutex_prefix:
 * the Mutex directive's names. */
apr_status_t b2c_shared_cache_start(b2c_shared_cache_t **c, int directive_set,
                                    const char *default_spec,
                                    const b2c_seal_ring_t *ring,
                                    const char *seal_logno, const char *name,
                                    const char *mutex_prefix, server_rec *s,
                                    apr_pool_t *pconf, int *fell_back,
                                    const char **err);

/* child_init: reattach the global mutex. */
void b2c_shared_cache_child_init(b2c_shared_cache_t *c, apr_pool_t *pchild);

/* Entry of at most max bytes (larger ones are treated as missing), copied
 * into p (opened when the cache has a ring) and NUL-terminated; it may
 * hold NULs, use *len. APR_NOTFOUND when absent or refused. */
apr_status_t b2c_shared_cache_get(b2c_shared_cache_t *c, server_rec *s,
                                  const char *key, size_t max, apr_pool_t *p,
                                  char **val, size_t *len);

/* Store until expiry; a full or failing cache is not an error for callers
 * (they fall back to per-process work), but the status says so. */
apr_status_t b2c_shared_cache_put(b2c_shared_cache_t *c, server_rec *s,
                                  const char *key, const char *val, size_t len,
                                  apr_time_t expiry, apr_pool_t *p);

apr_status_t b2c_shared_cache_remove(b2c_shared_cache_t *c, server_rec *s,
                                     const char *key, apr_pool_t *p);

/* Single flight for one piece of work (one URL, one client): 1 when the
 * caller may do it, having left a lease entry that expires at expiry; 0
 * when a process of this machine or a server of the fleet holds the lease.
 * The check-and-set is atomic among this machine's processes (a short
 * critical section under the PREFIX-fetch mutex, never held across the
 * work itself); across a fleet it is best effort. Always 1 without cache. */
int b2c_shared_cache_take_lease(b2c_shared_cache_t *c, server_rec *s,
                                const char *key, apr_time_t expiry,
                                apr_pool_t *p);

/* The single-flight seam over cache c as seen from server s (keys, leases,
 * apr_time_now, apr_sleep), kept in *holder, which must outlive its use.
 * NULL when c is NULL: no shared cache, so the caller always works. */
typedef struct {
    b2c_lease_cache_t seam;
    b2c_shared_cache_t *cache;
    server_rec *s;
} b2c_shared_cache_seam_t;

const b2c_lease_cache_t *b2c_shared_cache_seam(b2c_shared_cache_seam_t *holder,
                                               b2c_shared_cache_t *c,
                                               server_rec *s);

/* Once per interval across the machine or fleet (the unknown-kid refresh
 * limit): 1, leaving a marker at key that lasts for interval, when none is
 * there; 0 while one is. Always 1 without cache. */
int b2c_shared_cache_once(b2c_shared_cache_t *c, server_rec *s, const char *key,
                          apr_interval_time_t interval, apr_pool_t *p);

/* What the cache is, for log lines ("shmcb", "redis:127.0.0.1:6379"). */
const char *b2c_shared_cache_name(const b2c_shared_cache_t *c);

#endif
