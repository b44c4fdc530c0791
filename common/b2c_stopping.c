/* SPDX-License-Identifier: Apache-2.0 */
/* The process-wide stopping flag (see b2c_stopping.h). */
#include "b2c_stopping.h"

#include <apr_atomic.h>

static volatile apr_uint32_t stopping;

void b2c_stopping_begin(void)
{
    apr_atomic_set32(&stopping, 1);
}

int b2c_stopping(void)
{
    return apr_atomic_read32(&stopping) != 0;
}
