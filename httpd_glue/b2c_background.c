/* SPDX-License-Identifier: Apache-2.0 */
/* The child-exit gate for watchdog work (see b2c_background.h). */
#include "b2c_background.h"
#include "b2c_stopping.h"

#include <apr_optional.h>
#include <apr_thread_mutex.h>
#include <mod_watchdog.h>

struct b2c_background {
    apr_thread_mutex_t *lock; /* held for a whole tick */
    int closed;               /* under lock */
    b2c_background_fn *fn;
    void *baton;
    server_rec *s;
};

static apr_status_t close_gate(void *data)
{
    b2c_background_t *bg = data;

    b2c_stopping_begin(); /* cuts the tick in flight short */
    apr_thread_mutex_lock(bg->lock);
    bg->closed = 1;
    apr_thread_mutex_unlock(bg->lock);
    return APR_SUCCESS;
}

apr_status_t b2c_background_open(apr_pool_t *pchild, server_rec *s,
                                 b2c_background_fn *fn, void *baton,
                                 b2c_background_t **out)
{
    /* the process pool lives until exit(): once per child, never freed */
    apr_pool_t *lasting = s->process->pool;
    b2c_background_t *bg = apr_pcalloc(lasting, sizeof(*bg));
    apr_status_t rv;

    rv = apr_thread_mutex_create(&bg->lock, APR_THREAD_MUTEX_DEFAULT, lasting);
    if (rv != APR_SUCCESS)
        return rv;
    bg->fn = fn;
    bg->baton = baton;
    bg->s = s;
    /* pre-cleanups run before pchild's subpools and cleanups go */
    apr_pool_pre_cleanup_register(pchild, bg, close_gate);
    *out = bg;
    return APR_SUCCESS;
}

/* One tick, unless the gate is closed (or not open yet in this child). */
static apr_status_t tick(int state, void *data, apr_pool_t *p)
{
    b2c_background_t *bg = *(b2c_background_t *const *)data;

    if (state != AP_WATCHDOG_STATE_RUNNING || !bg)
        return APR_SUCCESS;
    apr_thread_mutex_lock(bg->lock);
    if (!bg->closed)
        bg->fn(bg->baton, bg->s, p);
    apr_thread_mutex_unlock(bg->lock);
    return APR_SUCCESS;
}

int b2c_background_register(apr_pool_t *pconf, const char *name,
                            apr_interval_time_t interval,
                            b2c_background_t *const *slot)
{
    APR_OPTIONAL_FN_TYPE(ap_watchdog_get_instance) *get =
        APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_get_instance);
    APR_OPTIONAL_FN_TYPE(ap_watchdog_register_callback) *add =
        APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_register_callback);
    ap_watchdog_t *wd;

    return get && add && get(&wd, name, 0, 0, pconf) == APR_SUCCESS
           && add(wd, interval, (void *)slot, tick) == APR_SUCCESS;
}
