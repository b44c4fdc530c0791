/* SPDX-License-Identifier: Apache-2.0 */
/* b2c_stopping: a transfer in flight ends soon after the flag is raised,
 * not at its timeout, and a new one fails at once. The flag is one-way and
 * process-wide: test_main.c runs this suite last (the sanitizer run keeps
 * every test in one process). */
#include "unit.h"
#include "b2c_http.h"
#include "b2c_stopping.h"

#include <apr_strings.h>
#include <apr_time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

/* A loopback port whose backlog takes the connection and nobody answers. */
static int tarpit(int *port)
{
    struct sockaddr_in a;
    socklen_t alen = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(listen(fd, 4), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

static void *raise_later(void *unused)
{
    apr_sleep(apr_time_from_msec(300));
    b2c_stopping_begin();
    return NULL;
}

START_TEST(transfer_in_flight_is_cancelled)
{
    static const b2c_http_options_t opts = { 20000, 2000, 65536, NULL };
    b2c_http_response_t resp;
    const char *err;
    pthread_t raiser;
    apr_time_t t0;
    apr_status_t rv;
    int port, fd = tarpit(&port);

    ck_assert(!b2c_stopping());
    ck_assert_int_eq(pthread_create(&raiser, NULL, raise_later, NULL), 0);
    t0 = apr_time_now();
    rv = b2c_http_get(ut_pool,
                      apr_psprintf(ut_pool, "http://127.0.0.1:%d/", port),
                      &opts, &resp, &err);
    pthread_join(raiser, NULL);
    close(fd);
    ck_assert_int_eq(rv, APR_EINTR);
    ck_assert_str_eq(err, "cancelled: the process is stopping");
    /* libcurl checks progress at least once a second; the timeout is 20 s */
    ck_assert_int_lt(apr_time_now() - t0, apr_time_from_sec(5));
    ck_assert(b2c_stopping());

    /* a new transfer does not start */
    rv = b2c_http_get(ut_pool, "http://127.0.0.1:9/", &opts, &resp, &err);
    ck_assert_int_eq(rv, APR_EINTR);
    ck_assert_str_eq(err, "the process is stopping");
}
END_TEST

Suite *stopping_suite(void)
{
    Suite *s = suite_create("stopping");
    TCase *tc = tcase_create("stopping");

    tcase_add_checked_fixture(tc, ut_setup, ut_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, transfer_in_flight_is_cancelled);
    suite_add_tcase(s, tc);
    return s;
}
