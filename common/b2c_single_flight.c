/* SPDX-License-Identifier: Apache-2.0 */
/* The single-flight protocol (see b2c_single_flight.h). The holder
 * publishes before it drops the lease, so once the lease is gone one more
 * look finds its result if it had one; a holder that died leaves a lease
 * that expires on its own (lease_ttl). */
#include "b2c_single_flight.h"
#include "b2c_log.h"
#include "b2c_logno.h"
#include "b2c_stopping.h"

#define LEASE_MAX_BYTES 64

static int lease_present(const b2c_lease_t *f, apr_pool_t *p)
{
    char *val;
    size_t len;
    return f->cache->get(f->cache->baton, f->lease_key, LEASE_MAX_BYTES, p,
                         &val, &len)
           == APR_SUCCESS;
}

/* Wait (bounded by wait_max) for the lease holder's result: 1 adopted,
 * 0 the holder left without one, -1 the wait ran out (holder alive). */
static const char *what(const b2c_lease_t *f)
{
    return f->what ? f->what : f->lease_key;
}

static int wait_for_holder(const b2c_lease_t *f, apr_pool_t *p)
{
    const b2c_lease_cache_t *c = f->cache;
    apr_time_t start = c->now(c->baton), until = start + f->wait_max;

    b2c_log(B2C_LOG_DEBUG, p,
            B2CLOGNO(00101) "%s: another process is fetching; waiting up to "
                            "%" APR_TIME_T_FMT " ms for its result",
            what(f), apr_time_as_msec(f->wait_max));
    while (c->now(c->baton) < until && !b2c_stopping()) {
        apr_interval_time_t left;
        if (f->adopt(f->baton, p, 1)) {
            b2c_log(B2C_LOG_DEBUG, p,
                    B2CLOGNO(00102) "%s: took the result another process "
                                    "published after %" APR_TIME_T_FMT " ms",
                    what(f), apr_time_as_msec(c->now(c->baton) - start));
            return 1;
        }
        if (!lease_present(f, p)) {
            if (f->adopt(f->baton, p, 1))
                return 1;
            b2c_log(B2C_LOG_DEBUG, p,
                    B2CLOGNO(00103) "%s: the process that was fetching "
                                    "left without a result",
                    what(f));
            return 0;
        }
        /* never sleep past the bound */
        left = until - c->now(c->baton);
        c->sleep(c->baton, left < f->poll ? left : f->poll);
    }
    b2c_log(B2C_LOG_INFO, p,
            B2CLOGNO(00104) "%s: no result from the process fetching it "
                            "within %" APR_TIME_T_FMT " ms%s",
            what(f), apr_time_as_msec(c->now(c->baton) - start),
            b2c_stopping() ? " (stopping)"
            : f->give_up   ? ": giving up"
                           : ": fetching here");
    return -1;
}

apr_status_t b2c_lease_run(const b2c_lease_t *f, apr_pool_t *p)
{
    const b2c_lease_cache_t *c = f->cache;
    apr_status_t rv;

    if (!c)
        return f->work(f->baton, p);
    if (f->adopt(f->baton, p, 0))
        return APR_SUCCESS;
    if (!c->take_lease(c->baton, f->lease_key, c->now(c->baton) + f->lease_ttl,
                       p)) {
        /* fetch ourselves only if the holder vanished without a result */
        int got = wait_for_holder(f, p);
        if (got > 0)
            return APR_SUCCESS;
        if (got < 0 && f->give_up)
            return APR_TIMEUP;
    }
    else if (f->adopt(f->baton, p, 0)) {
        /* won the lease just after another holder published and left */
        c->remove(c->baton, f->lease_key, p);
        return APR_SUCCESS;
    }
    rv = f->work(f->baton, p);
    c->remove(c->baton, f->lease_key, p);
    return rv;
}

int b2c_lease_join(const b2c_lease_t *f, apr_pool_t *p)
{
    return f->cache && lease_present(f, p) && wait_for_holder(f, p) > 0;
}
