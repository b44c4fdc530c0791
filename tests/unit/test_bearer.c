/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: the Authorization header parser (b2c_bearer), RFC 6750 §2.1. */
#include "unit.h"
#include "b2c_bearer.h"

#include <string.h>

#define JWT "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"

/* Parse hdr; check the status and, for OK, that the token is `want`. */
static void expect(const char *hdr, b2c_bearer_status_t status,
                   const char *want)
{
    const char *tok = (const char *)1;
    size_t len = 12345;
    b2c_bearer_status_t got = b2c_bearer_parse(hdr, &tok, &len);

    ck_assert_msg(got == status, "header [%s]: status %d, expected %d",
                  hdr ? hdr : "(null)", (int)got, (int)status);
    if (status == B2C_BEARER_OK) {
        ck_assert_ptr_nonnull(tok);
        ck_assert_uint_eq(len, strlen(want));
        ck_assert(memcmp(tok, want, len) == 0);
        /* the token is the tail of the header value, in place */
        ck_assert(tok >= hdr && tok + len == hdr + strlen(hdr));
    }
    else {
        ck_assert_ptr_null(tok);
        ck_assert_uint_eq(len, 0);
    }
}

START_TEST(bearer_plain)
{
    expect("Bearer " JWT, B2C_BEARER_OK, JWT);
    expect("Bearer abc", B2C_BEARER_OK, "abc");
    /* every b64token character, and trailing '=' padding */
    expect("Bearer AZaz09-._~+/==", B2C_BEARER_OK, "AZaz09-._~+/==");
    expect("Bearer x=", B2C_BEARER_OK, "x=");
}
END_TEST

START_TEST(bearer_scheme_case_insensitive)
{
    expect("bearer abc", B2C_BEARER_OK, "abc");
    expect("BEARER abc", B2C_BEARER_OK, "abc");
    expect("bEaReR abc", B2C_BEARER_OK, "abc");
}
END_TEST

START_TEST(bearer_blanks)
{
    /* blanks before the scheme, several spaces after it */
    expect("  Bearer abc", B2C_BEARER_OK, "abc");
    expect("\t Bearer abc", B2C_BEARER_OK, "abc");
    expect("Bearer    abc", B2C_BEARER_OK, "abc");
    /* a tab may end the scheme but is not skipped before the token */
    expect("Bearer\tabc", B2C_BEARER_MALFORMED, NULL);
    expect("Bearer \tabc", B2C_BEARER_MALFORMED, NULL);
    /* blanks after or inside the token */
    expect("Bearer abc ", B2C_BEARER_MALFORMED, NULL);
    expect("Bearer abc\t", B2C_BEARER_MALFORMED, NULL);
    expect("Bearer ab c", B2C_BEARER_MALFORMED, NULL);
    /* RFC 6750 b64token: at least one character before any padding */
    expect("Bearer ===", B2C_BEARER_MALFORMED, NULL);
    expect("Bearer =", B2C_BEARER_MALFORMED, NULL);
    expect("Bearer a===", B2C_BEARER_OK, "a===");
    /* repeated headers, as httpd joins them */
    expect("Basic dXNlcjpwdw==, Bearer abc", B2C_BEARER_MALFORMED, NULL);
    expect(", Bearer abc", B2C_BEARER_MALFORMED, NULL);
    expect("Bearer abc, Bearer def", B2C_BEARER_MALFORMED, NULL);
}
END_TEST

START_TEST(bearer_no_token)
{
    expect("Bearer", B2C_BEARER_MALFORMED, NULL);
    expect("Bearer ", B2C_BEARER_MALFORMED, NULL);
    expect("Bearer   ", B2C_BEARER_MALFORMED, NULL);
    expect("  bearer\t", B2C_BEARER_MALFORMED, NULL);
}
END_TEST

START_TEST(bearer_merged_or_odd_tokens)
{
    /* two Authorization headers merged by httpd */
    expect("Bearer abc, Bearer def", B2C_BEARER_MALFORMED, NULL);
    expect("Bearer abc,def", B2C_BEARER_MALFORMED, NULL);
    /* '=' only at the end; characters outside b64token */
    expect("Bearer ab=c", B2C_BEARER_MALFORMED, NULL);
    expect("Bearer \"abc\"", B2C_BEARER_MALFORMED, NULL);
    expect("Bearer abc\r\nX-Evil: 1", B2C_BEARER_MALFORMED, NULL);
    expect("Bearer ab\x80"
           "c",
           B2C_BEARER_MALFORMED, NULL);
    expect("Bearer abc;", B2C_BEARER_MALFORMED, NULL);
}
END_TEST

START_TEST(bearer_other_schemes)
{
    expect(NULL, B2C_BEARER_NONE, NULL);
    expect("", B2C_BEARER_NONE, NULL);
    expect("   ", B2C_BEARER_NONE, NULL);
    expect("Basic dXNlcjpwYXNz", B2C_BEARER_NONE, NULL);
    expect("Negotiate abc", B2C_BEARER_NONE, NULL);
    expect("DPoP abc", B2C_BEARER_NONE, NULL);
    /* the scheme must be a whole word */
    expect("BearerX abc", B2C_BEARER_NONE, NULL);
    expect("Bearerabc", B2C_BEARER_NONE, NULL);
    expect("Bearer,abc", B2C_BEARER_MALFORMED,
           NULL); /* a comma: joined headers */
    expect("Beare abc", B2C_BEARER_NONE, NULL);
    expect("Bear", B2C_BEARER_NONE, NULL);
    expect("B", B2C_BEARER_NONE, NULL);
    expect("\nBearer abc", B2C_BEARER_NONE, NULL);
    expect("xBearer abc", B2C_BEARER_NONE, NULL);
}
END_TEST

START_TEST(bearer_long_token)
{
    static char hdr[7 + 20000 + 1];

    memcpy(hdr, "Bearer ", 7);
    memset(hdr + 7, 'A', 20000);
    hdr[sizeof(hdr) - 1] = '\0';
    /* size limits belong to the validator, not to the header parser */
    expect(hdr, B2C_BEARER_OK, hdr + 7);
}
END_TEST

Suite *bearer_suite(void)
{
    Suite *s = suite_create("bearer");
    TCase *tc = tcase_create("authorization header");

    tcase_add_test(tc, bearer_plain);
    tcase_add_test(tc, bearer_scheme_case_insensitive);
    tcase_add_test(tc, bearer_blanks);
    tcase_add_test(tc, bearer_no_token);
    tcase_add_test(tc, bearer_merged_or_odd_tokens);
    tcase_add_test(tc, bearer_other_schemes);
    tcase_add_test(tc, bearer_long_token);
    suite_add_tcase(s, tc);
    return s;
}
