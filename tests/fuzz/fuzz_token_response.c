/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz target: token endpoint answers (b2c_token_response_parse).
 * Input: "STATUS\nRETRY-AFTER\nBODY" — STATUS up to 6 characters read with
 * strtol (so "-1", "0", "200", "429" ...), RETRY-AFTER the header value
 * (an empty line: no header), BODY the rest, bytes as they are. A missing
 * line means status 200 / no header / empty body. */
#include "fuzz_common.h"
#include "b2c_token_request.h"

#include <apr_strings.h>
#include <stdlib.h>
#include <string.h>

/* The next line of [*at, end) as a NUL-terminated copy, or NULL at end. */
static char *line(apr_pool_t *p, const uint8_t **at, const uint8_t *end)
{
    const uint8_t *nl;
    char *s;

    if (*at >= end)
        return NULL;
    nl = memchr(*at, '\n', (size_t)(end - *at));
    if (nl == NULL)
        nl = end;
    s = fz_cstr(p, *at, (size_t)(nl - *at));
    *at = nl < end ? nl + 1 : end;
    return s;
}

static int safe_text(const char *s)
{
    return s == NULL
           || (!fz_has_ctl(s, strlen(s)) && !strchr(s, '"')
               && !strchr(s, '\\'));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fz_pool();
    const uint8_t *at = data, *end = data + size;
    char *st = line(p, &at, end), *ra;
    long status = 200;
    b2c_token_result_t res;

    if (st && *st) {
        if (strlen(st) > 6)
            st[6] = '\0';
        status = strtol(st, NULL, 10);
    }
    ra = line(p, &at, end);
    if (ra && *ra == '\0')
        ra = NULL;

    b2c_token_response_parse(p, status, (const char *)at, (size_t)(end - at),
                             ra, &res);

    FZ_CHECK(res.retry_after == -1
             || (res.retry_after >= 0 && res.retry_after <= 86400));
    FZ_CHECK(ra != NULL || res.retry_after == -1);
    if (res.outcome == B2C_FETCH_OK) {
        FZ_CHECK(status >= 200 && status < 300);
        FZ_CHECK(res.access_token != NULL && *res.access_token);
        FZ_CHECK(
            strspn(res.access_token,
                   "!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                   "[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~")
            == strlen(res.access_token));
        FZ_CHECK(res.expires_in >= 1 && res.expires_in <= 31536000);
        FZ_CHECK(res.error == NULL);
    }
    else {
        FZ_CHECK(res.outcome == B2C_FETCH_RETRYABLE
                 || res.outcome == B2C_FETCH_REFUSED);
        FZ_CHECK(res.access_token == NULL && res.error != NULL && *res.error);
        FZ_CHECK(safe_text(res.error) && strlen(res.error) <= 300);
        FZ_CHECK(safe_text(res.error_description));
        FZ_CHECK(res.error_description == NULL
                 || strlen(res.error_description) <= 300);
        if (res.outcome == B2C_FETCH_REFUSED)
            FZ_CHECK(status >= 300 && status < 500 && status != 408
                     && status != 429);
        if (res.error_code) {
            size_t d = strspn(res.error_code + 6, "0123456789");
            FZ_CHECK(strncmp(res.error_code, "AADSTS", 6) == 0 && d >= 1
                     && d <= 10 && res.error_code[6 + d] == '\0');
        }
    }
    apr_pool_destroy(p);
    return 0;
}
