/* SPDX-License-Identifier: Apache-2.0 */
/* The process is stopping: a one-way, process-wide flag. Once raised, every
 * HTTP transfer in flight is cancelled at its next progress check (within
 * about a second) and every new one fails at once, and single-flight waits
 * end, so that background work still running when a child exits finishes
 * quickly instead of running into freed memory. No httpd headers. */
#ifndef B2C_STOPPING_H
#define B2C_STOPPING_H

/* Raise the flag (idempotent, any thread). */
void b2c_stopping_begin(void);

/* 1 once b2c_stopping_begin was called in this process. */
int b2c_stopping(void);

#endif
