/* SPDX-License-Identifier: Apache-2.0 */
/* Single flight across processes and servers: one of them does a piece of
 * work (fetch keys for a URL, a token for a client) and publishes the
 * result in the shared cache; the others adopt it. The protocol (look,
 * take a lease, wait bounded for the holder, adopt, work, release) is
 * written once here, for the key store and the client tokens alike. It
 * reaches the cache and the clock only through b2c_lease_cache_t, so it is
 * pure APR and unit-tested with a fake cache and a fake clock. It says
 * what it waited for and why it gave up through the log seam (b2c_log.h,
 * debug and info lines B2C00101-00104). */
#ifndef B2C_SINGLE_FLIGHT_H
#define B2C_SINGLE_FLIGHT_H

#include <apr_pools.h>
#include <apr_time.h>

/* The seam to the shared cache and the clock (httpd_glue/ provides one
 * over httpd's socache providers; tests provide fakes). */
typedef struct {
    /* APR_SUCCESS with an entry of at most max bytes, NUL-terminated. */
    apr_status_t (*get)(void *baton, const char *key, size_t max, apr_pool_t *p,
                        char **val, size_t *len);
    apr_status_t (*put)(void *baton, const char *key, const char *val,
                        size_t len, apr_time_t expiry, apr_pool_t *p);
    apr_status_t (*remove)(void *baton, const char *key, apr_pool_t *p);
    /* 1 when the caller now holds the lease (an entry until expiry). */
    int (*take_lease)(void *baton, const char *key, apr_time_t expiry,
                      apr_pool_t *p);
    apr_time_t (*now)(void *baton);
    void (*sleep)(void *baton, apr_interval_time_t t);
    void *baton;
} b2c_lease_cache_t;

/* How a caller adopts a published value: the callback checks it (parse,
 * newer than ours, still usable) and installs it; 1 when it did. waiting:
 * 1 while waiting for a holder, whose result is taken even if a first
 * look would have asked for more (a scheduled refresh wants one within
 * schedule). */
typedef int (*b2c_lease_adopt_fn)(void *baton, apr_pool_t *p, int waiting);

/* The work itself (fetch and publish); its status is the flight's. */
typedef apr_status_t (*b2c_lease_work_fn)(void *baton, apr_pool_t *p);

typedef struct {
    const b2c_lease_cache_t *cache; /* NULL: no shared cache, just work */
    const char *what; /* for log lines: the metadata URL, "client NAME" */
    const char *lease_key;
    apr_interval_time_t lease_ttl; /* the lease outlives a dead holder */
    apr_interval_time_t wait_max;  /* bound on waiting for a holder */
    apr_interval_time_t poll;      /* between looks while waiting */
    int give_up;                   /* wait ran out, holder alive: no work,
                                     * APR_TIMEUP (the caller answers 503) */
    b2c_lease_adopt_fn adopt;
    b2c_lease_work_fn work;
    void *baton; /* for adopt and work */
} b2c_lease_t;

/* Adopt what another published, else take the lease and work, or wait
 * (bounded) for the holder's result and work only if none came (holder
 * vanished, or the wait ran out). The lease is released after the work.
 * APR_SUCCESS when a value was adopted or the work succeeded. With
 * give_up, a wait that runs out while the holder's lease is still there
 * ends in APR_TIMEUP without working: a caller then waited at most
 * wait_max in all, however slow the holder is. */
apr_status_t b2c_lease_run(const b2c_lease_t *f, apr_pool_t *p);

/* When a holder is at work now, wait (bounded) for its result: 1 when one
 * was adopted. 0 at once when no lease is held (or no cache). */
int b2c_lease_join(const b2c_lease_t *f, apr_pool_t *p);

#endif
