/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests: claim helpers for authorization and export (b2c_claims). */
#include "unit.h"

#include <strings.h>
#include "b2c_claims.h"

#include <string.h>

static json_t *c;

static void setup(void)
{
    json_error_t e;

    ut_setup();
    c = json_loads(
        "{\"roles\":[\"Reader\",\"Writer\",7],"
        "\"scp\":\"access:test-api  User.Read openid\","
        "\"groups\":[\"g1\",\"g2\",\"g3\"],"
        "\"name\":\"Ada\\r\\nSet-Cookie: x=1\\tend\\u007f\","
        "\"n\":42,\"neg\":-3,\"r\":1.5,\"t\":true,\"f\":false,\"z\":null,"
        "\"mixed\":[\"a\",1,true],\"nested\":[[\"a\"],\"b\"],"
        "\"obj\":{\"k\":\"v\\n\"},\"empty\":[],\"comma\":[\"a,b\",\"c\"],"
        "\"role_str\":\"Reader\",\"upn\":\"ada@example.com\"}",
        0, &e);
    ck_assert_ptr_nonnull(c);
}

static void teardown(void)
{
    json_decref(c);
    ut_teardown();
}

START_TEST(roles)
{
    json_t *s = json_pack("{s:s}", "roles", "Reader");

    ck_assert(b2c_claims_has_role(c, "Reader"));
    ck_assert(b2c_claims_has_role(c, "Writer"));
    ck_assert(!b2c_claims_has_role(c, "reader"));
    ck_assert(!b2c_claims_has_role(c, "Read"));
    ck_assert(!b2c_claims_has_role(c, "7"));
    ck_assert(!b2c_claims_has_role(c, ""));
    ck_assert(!b2c_claims_has_role(c, NULL));
    ck_assert(!b2c_claims_has_role(NULL, "Reader"));
    /* roles as a plain string is not the documented shape: no match */
    ck_assert(!b2c_claims_has_role(s, "Reader"));
    json_decref(s);
}
END_TEST

START_TEST(scopes)
{
    ck_assert(b2c_claims_has_scope(c, "access:test-api"));
    ck_assert(b2c_claims_has_scope(c, "User.Read"));
    ck_assert(b2c_claims_has_scope(c, "openid"));
    ck_assert(!b2c_claims_has_scope(c, "access"));    /* prefix of a word */
    ck_assert(!b2c_claims_has_scope(c, "test-api"));  /* suffix of a word */
    ck_assert(!b2c_claims_has_scope(c, "user.read")); /* case */
    ck_assert(!b2c_claims_has_scope(c, "User.Read openid"));
    ck_assert(!b2c_claims_has_scope(c, ""));
    ck_assert(!b2c_claims_has_scope(c, " "));
    ck_assert(!b2c_claims_has_scope(c, NULL));
    {
        json_t *a = json_pack("{s:[s]}", "scp", "openid");
        ck_assert(
            !b2c_claims_has_scope(a, "openid")); /* scp must be a string */
        json_decref(a);
    }
}
END_TEST

START_TEST(claim_match)
{
    ck_assert(b2c_claims_match(c, "upn", "ada@example.com"));
    ck_assert(!b2c_claims_match(c, "upn", "ADA@example.com"));
    ck_assert(b2c_claims_match(c, "groups", "g2"));
    ck_assert(!b2c_claims_match(c, "groups", "g"));
    ck_assert(!b2c_claims_match(c, "groups", "g1,g2,g3"));
    ck_assert(b2c_claims_match(c, "n", "42"));
    ck_assert(!b2c_claims_match(c, "n", "42.0"));
    ck_assert(b2c_claims_match(c, "neg", "-3"));
    ck_assert(b2c_claims_match(c, "t", "true"));
    ck_assert(b2c_claims_match(c, "f", "false"));
    ck_assert(!b2c_claims_match(c, "t", "1"));
    ck_assert(b2c_claims_match(c, "r", "1.5"));
    ck_assert(b2c_claims_match(c, "mixed", "1"));
    ck_assert(b2c_claims_match(c, "mixed", "true"));
    ck_assert(b2c_claims_match(c, "role_str", "Reader"));
    ck_assert(!b2c_claims_match(c, "z", "null"));
    ck_assert(!b2c_claims_match(c, "z", ""));
    ck_assert(!b2c_claims_match(c, "obj", "{\"k\":\"v\\n\"}"));
    ck_assert(!b2c_claims_match(c, "nested", "a"));
    ck_assert(b2c_claims_match(c, "nested", "b"));
    ck_assert(!b2c_claims_match(c, "absent", "x"));
    ck_assert(!b2c_claims_match(c, NULL, "x"));
    ck_assert(!b2c_claims_match(c, "upn", NULL));
}
END_TEST

START_TEST(claim_text)
{
    ck_assert_str_eq(b2c_claim_text(ut_pool, c, "upn"), "ada@example.com");
    ck_assert_str_eq(b2c_claim_text(ut_pool, c, "groups"), "g1,g2,g3");
    ck_assert_str_eq(b2c_claim_text(ut_pool, c, "roles"), "Reader,Writer,7");
    ck_assert_str_eq(b2c_claim_text(ut_pool, c, "mixed"), "a,1,true");
    ck_assert_str_eq(b2c_claim_text(ut_pool, c, "comma"), "a,b,c");
    ck_assert_str_eq(b2c_claim_text(ut_pool, c, "n"), "42");
    ck_assert_str_eq(b2c_claim_text(ut_pool, c, "neg"), "-3");
    ck_assert_str_eq(b2c_claim_text(ut_pool, c, "r"), "1.5");
    ck_assert_str_eq(b2c_claim_text(ut_pool, c, "t"), "true");
    ck_assert_str_eq(b2c_claim_text(ut_pool, c, "f"), "false");
    ck_assert_str_eq(b2c_claim_text(ut_pool, c, "empty"), "");
    ck_assert_str_eq(b2c_claim_text(ut_pool, c, "nested"), "[[\"a\"],\"b\"]");
    ck_assert_str_eq(b2c_claim_text(ut_pool, c, "obj"), "{\"k\":\"v\\n\"}");
    ck_assert_ptr_null(b2c_claim_text(ut_pool, c, "z"));
    ck_assert_ptr_null(b2c_claim_text(ut_pool, c, "absent"));
    ck_assert_ptr_null(b2c_claim_text(ut_pool, NULL, "upn"));
}
END_TEST

START_TEST(claim_text_control_chars)
{
    const char *t = b2c_claim_text(ut_pool, c, "name");
    json_t *a = json_pack("{s:[s,s]}", "x", "a\r\nb", "c\001");

    ck_assert_str_eq(t, "Ada  Set-Cookie: x=1 end ");
    ck_assert_ptr_null(strchr(t, '\r'));
    ck_assert_ptr_null(strchr(t, '\n'));
    ck_assert_str_eq(b2c_claim_text(ut_pool, a, "x"), "a  b,c ");
    json_decref(a);
}
END_TEST

START_TEST(env_names)
{
    ck_assert_str_eq(b2c_claim_env_name(ut_pool, "preferred_username"),
                     "preferred_username");
    ck_assert_str_eq(
        b2c_claim_env_name(ut_pool, "http://schemas.example/claims/role"),
        "http___schemas_example_claims_role");
    ck_assert_str_eq(b2c_claim_env_name(ut_pool, "a-b.c d\n=e"), "a_b_c_d__e");
    ck_assert_str_eq(b2c_claim_env_name(ut_pool, "\xc3\xa9t\xc3\xa9"), "__t__");
    ck_assert_str_eq(b2c_claim_env_name(ut_pool, "Tid9"), "Tid9");
    ck_assert_str_eq(b2c_claim_env_name(ut_pool, ""), "");
    ck_assert_ptr_null(b2c_claim_env_name(ut_pool, NULL));
}
END_TEST

START_TEST(render_exports)
{
    json_t *d =
        json_loads("{\"sub\":\"s1\",\"a-b\":\"first\",\"n\":42,"
                   "\"z\":null,\"a_b\":\"second\",\"roles\":[\"r1\",\"r2\"]}",
                   0, NULL);
    b2c_claim_export_t *x;
    int n, i, ab = 0;

    ck_assert_ptr_nonnull(d);
    n = b2c_claims_render_exports(ut_pool, d, "B2C_CLAIM_", &x);
    /* null has no text; "a-b" and "a_b" share a variable: the later wins */
    ck_assert_int_eq(n, 4);
    for (i = 0; i < n; i++) {
        if (!strcmp(x[i].env, "B2C_CLAIM_a_b")) {
            ab++;
            ck_assert_str_eq(x[i].text, "second");
        }
        else if (!strcmp(x[i].env, "B2C_CLAIM_n"))
            ck_assert_str_eq(x[i].text, "42");
        else if (!strcmp(x[i].env, "B2C_CLAIM_roles"))
            ck_assert_str_eq(x[i].text, "r1,r2");
        else
            ck_assert_str_eq(x[i].env, "B2C_CLAIM_sub");
    }
    ck_assert_int_eq(ab, 1);
    json_decref(d);
}
END_TEST

/* issue 11, finding 10: Unicode line breaks are neutralised like CR/LF */
START_TEST(claim_text_unicode_line_breaks)
{
    json_t *d = json_pack("{s:s,s:s,s:s,s:s,s:[s,s]}", "nel",
                          "a\xc2\x85"
                          "b",
                          "ls",
                          "a\xe2\x80\xa8"
                          "b",
                          "ps",
                          "a\xe2\x80\xa9"
                          "b",
                          "ok", "\xc3\xa9t\xc3\xa9 \xe2\x80\xa6", "arr",
                          "x\xe2\x80\xa8y", "\xc2\x85");

    ck_assert_str_eq(b2c_claim_text(ut_pool, d, "nel"), "a  b");
    ck_assert_str_eq(b2c_claim_text(ut_pool, d, "ls"), "a   b");
    ck_assert_str_eq(b2c_claim_text(ut_pool, d, "ps"), "a   b");
    /* other non-ASCII text is left alone (U+2026 shares E2 80) */
    ck_assert_str_eq(b2c_claim_text(ut_pool, d, "ok"),
                     "\xc3\xa9t\xc3\xa9 \xe2\x80\xa6");
    ck_assert_str_eq(b2c_claim_text(ut_pool, d, "arr"), "x   y,  ");
    json_decref(d);
}
END_TEST

static const char *export_of(const b2c_claim_export_t *x, int n,
                             const char *env)
{
    int i, found = 0;
    const char *text = NULL;

    for (i = 0; i < n; i++)
        if (!strcasecmp(x[i].env, env)) {
            found++;
            text = x[i].text;
        }
    ck_assert_int_le(found, 1);
    return text;
}

/* issue 11, finding 7: names differing only by case leave one export, the
 * value Require read */
START_TEST(render_exports_case_insensitive)
{
    static const char *const docs[] = {
        "{\"roles\":[\"access:test-api\"],\"ROLES\":\"admin\"}",
        "{\"ROLES\":\"admin\",\"roles\":[\"access:test-api\"]}",
        "{\"Roles\":\"admin\",\"roles\":[\"access:test-api\"],\"rOLES\":\"x\"}",
        "{\"roles\":[\"access:test-api\"],\"ro-les\":\"y\",\"ROLES\":"
        "\"admin\"}",
    };
    b2c_claim_export_t *x;
    size_t k;
    int n;

    for (k = 0; k < sizeof(docs) / sizeof(docs[0]); k++) {
        json_t *d = json_loads(docs[k], 0, NULL);
        ck_assert_ptr_nonnull(d);
        n = b2c_claims_render_exports(ut_pool, d, "B2C_CLAIM_", &x);
        ck_assert_str_eq(export_of(x, n, "B2C_CLAIM_roles"), "access:test-api");
        ck_assert(b2c_claims_has_role(d, "access:test-api"));
        ck_assert(!b2c_claims_has_role(d, "admin"));
        json_decref(d);
    }
    {
        /* neither plain: the later wins, still once */
        json_t *d = json_loads("{\"Sub-X\":\"1\",\"SUB_x\":\"2\"}", 0, NULL);
        n = b2c_claims_render_exports(ut_pool, d, "B2C_CLAIM_", &x);
        ck_assert_int_eq(n, 1);
        ck_assert_str_eq(export_of(x, n, "B2C_CLAIM_sub_x"), "2");
        json_decref(d);
    }
}
END_TEST

Suite *claims_suite(void)
{
    Suite *s = suite_create("claims");
    TCase *t = tcase_create("claims");

    tcase_add_checked_fixture(t, setup, teardown);
    tcase_add_test(t, roles);
    tcase_add_test(t, scopes);
    tcase_add_test(t, claim_match);
    tcase_add_test(t, claim_text);
    tcase_add_test(t, claim_text_control_chars);
    tcase_add_test(t, env_names);
    tcase_add_test(t, render_exports);
    tcase_add_test(t, claim_text_unicode_line_breaks);
    tcase_add_test(t, render_exports_case_insensitive);
    suite_add_tcase(s, t);
    return s;
}
