/* Fault plans (DESIGN.md "Fault plans"): one rule is
 *   FUNC[,FUNC..]:ACTION[:ACTION..][:when=EXPR][:proc=SEL][:site=MODULE+0xOFF]
 * and every error names the token it could not read, with the rule. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

IPCV_EXPORT size_t ipcv_faults_npoints(void) { return IPCV_NFN; }

IPCV_EXPORT const struct ipcv_point *ipcv_faults_point(size_t i)
{
    return i < IPCV_NFN ? &ipcv_points[i] : NULL;
}

IPCV_EXPORT const struct ipcv_point *ipcv_faults_find(const char *function)
{
    for (size_t i = 0; i < IPCV_NFN; i++)
        if (!strcmp(ipcv_points[i].function, function))
            return &ipcv_points[i];
    return NULL;
}

IPCV_EXPORT size_t ipcv_faults_nclasses(void) { return IPCV_NCLASS; }

IPCV_EXPORT const char *ipcv_faults_class_name(size_t i)
{
    return i < IPCV_NCLASS ? ipcv_class_names[i] : NULL;
}

IPCV_EXPORT const char *ipcv_faults_ret_name(enum ipcv_ret r)
{
    switch (r) {
    case IPCV_RET_MINUS1: return "-1 and errno";
    case IPCV_RET_ERRNO: return "the error number";
    case IPCV_RET_VOIDP: return "(void *)-1 and errno";
    case IPCV_RET_SEMFAILED: return "SEM_FAILED and errno";
    case IPCV_RET_MAPFAILED: return "MAP_FAILED and errno";
    case IPCV_RET_MQD: return "(mqd_t)-1 and errno";
    }
    return "?";
}

IPCV_EXPORT const char *ipcv_faults_errname(int err)
{
    return err > 0 ? strerrorname_np(err) : NULL;
}

IPCV_EXPORT int ipcv_faults_errno(const char *name)
{
    static const struct { const char *name; int err; } aliases[] = {
        { "EWOULDBLOCK", EWOULDBLOCK }, { "ENOTSUP", ENOTSUP }, { "EDEADLOCK", EDEADLOCK },
    };
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (!strcmp(aliases[i].name, name))
            return aliases[i].err;
    for (int e = 1; e < 4096; e++) {
        const char *n = strerrorname_np(e);
        if (n && !strcmp(n, name))
            return e;
    }
    return -1;
}

int ipcv_signal_number(const char *name)
{
    char *end;
    long n = strtol(name, &end, 10);
    if (*name && !*end)
        return n > 0 && n < NSIG ? (int)n : -1;
    if (!strncmp(name, "SIG", 3))
        name += 3;
    for (int s = 1; s < NSIG; s++) {
        const char *a = sigabbrev_np(s);
        if (a && !strcmp(a, name))
            return s;
    }
    return -1;
}

/* Whole unsigned number in [min, max]; -1 if s is not one. */
static int number(const char *s, size_t len, unsigned long min, unsigned long max,
                  unsigned long *out)
{
    if (!len || len > 20)
        return -1;
    unsigned long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        if (v > (~0UL - 9) / 10)
            return -1;
        v = v * 10 + (unsigned long)(s[i] - '0');
    }
    if (v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* "N", "N..M", "N+", "N+S", "N..M+S" (strace's when=). */
static int parse_when(const char *s, struct ipcv_rule *r)
{
    const char *dots = strstr(s, "..");
    const char *plus = strchr(s, '+');
    const char *end_first = dots ? dots : plus ? plus : s + strlen(s);
    unsigned long first, last = ~0UL, step = 1;
    if (number(s, (size_t)(end_first - s), 1, ~0UL - 1, &first) < 0)
        return -1;
    if (dots) {
        const char *m = dots + 2;
        const char *m_end = plus ? plus : m + strlen(m);
        if (plus && plus < m)
            return -1;
        if (number(m, (size_t)(m_end - m), first, ~0UL - 1, &last) < 0)
            return -1;
    } else if (!plus) {
        last = first;
    }
    if (plus && plus[1] && number(plus + 1, strlen(plus + 1), 1, ~0UL - 1, &step) < 0)
        return -1;
    r->when = IPCV_WHEN_RANGE;
    r->first = first;
    r->last = last;
    r->step = step;
    return 0;
}

static int parse_prob(const char *s, struct ipcv_rule *r)
{
    char *end;
    errno = 0;
    double p = strtod(s, &end);
    if (!*s || *end || errno || !(p > 0.0) || p > 1.0)
        return -1;
    r->when = IPCV_WHEN_PROB;
    r->p = p;
    return 0;
}

/* "root", "child", "0.1.2", "comm=NAME". */
static int parse_proc(const char *s, struct ipcv_rule *r)
{
    if (!strcmp(s, "root")) {
        r->proc = IPCV_PROC_ROOT;
        return 0;
    }
    if (!strcmp(s, "child")) {
        r->proc = IPCV_PROC_CHILD;
        return 0;
    }
    if (!strncmp(s, "comm=", 5)) {
        if (!s[5] || strlen(s + 5) >= sizeof r->proc_arg)
            return -1;
        r->proc = IPCV_PROC_COMM;
        snprintf(r->proc_arg, sizeof r->proc_arg, "%s", s + 5);
        return 0;
    }
    /* A lineage: 0, then .N with N >= 1. */
    if (s[0] != '0' || strlen(s) >= sizeof r->proc_arg)
        return -1;
    for (const char *p = s + 1; *p;) {
        if (*p != '.' || p[1] < '1' || p[1] > '9')
            return -1;
        p += 2;
        while (isdigit((unsigned char)*p))
            p++;
    }
    r->proc = IPCV_PROC_PATH;
    snprintf(r->proc_arg, sizeof r->proc_arg, "%s", s);
    return 0;
}

static int parse_delay(const char *s, unsigned long *lo, unsigned long *hi)
{
    const unsigned long max = 600UL * 1000 * 1000;   /* ten minutes */
    const char *dots = strstr(s, "..");
    if (number(s, dots ? (size_t)(dots - s) : strlen(s), 0, max, lo) < 0)
        return -1;
    if (!dots) {
        *hi = *lo;
        return 0;
    }
    return number(dots + 2, strlen(dots + 2), *lo, max, hi);
}

#define FAIL(...) do { snprintf(err, errlen, __VA_ARGS__); return -1; } while (0)

static int parse_funcs(const char *list, size_t len, struct ipcv_rule *r, const char *rule,
                       char *err, size_t errlen)
{
    const char *p = list, *end = list + len;
    while (p <= end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *e = comma ? comma : end;
        char name[64];
        if (e == p)
            FAIL("empty function name in '%s'", rule);
        if ((size_t)(e - p) >= sizeof name)
            FAIL("unknown function '%.*s' in '%s'", (int)(e - p), p, rule);
        memcpy(name, p, (size_t)(e - p));
        name[e - p] = '\0';
        if (name[0] == '%') {
            size_t c = 0;
            while (c < IPCV_NCLASS && strcmp(ipcv_class_names[c], name))
                c++;
            if (c == IPCV_NCLASS) {
                char all[160] = "";
                for (size_t k = 0; k < IPCV_NCLASS; k++)
                    snprintf(all + strlen(all), sizeof all - strlen(all), "%s%s", k ? " " : "",
                             ipcv_class_names[k]);
                FAIL("unknown class '%s' in '%s' (one of %s)", name, rule, all);
            }
            for (size_t f = 0; f < IPCV_NFN; f++)
                r->fdmask[f] |= ipcv_points[f].classes[c];
        } else {
            const struct ipcv_point *pt = ipcv_faults_find(name);
            if (!pt)
                FAIL("unknown function '%s' in '%s' (see 'ipcvet points')", name, rule);
            r->fdmask[pt - ipcv_points] = 7;
        }
        if (!comma)
            break;
        p = comma + 1;
    }
    return 0;
}

int ipcv_rule_parse(const char *text, struct ipcv_rule *r, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    r->err = 0;
    if (strlen(text) >= sizeof r->text)
        FAIL("rule longer than %zu characters: '%.40s...'", sizeof r->text - 1, text);
    snprintf(r->text, sizeof r->text, "%s", text);
    const char *rule = r->text;
    const char *colon = strchr(rule, ':');
    if (!*rule)
        FAIL("empty rule");
    if (!colon)
        FAIL("no action in '%s' (FUNC:error=E, signal=S, crash, crash_after, delay_enter=US, "
             "delay_exit=US or short=N)", rule);
    if (parse_funcs(rule, (size_t)(colon - rule), r, rule, err, errlen) < 0)
        return -1;

    int have_when = 0, have_proc = 0;
    char tok[IPCV_RULE_TEXT];
    for (const char *p = colon + 1;;) {
        const char *next = strchr(p, ':');
        size_t n = next ? (size_t)(next - p) : strlen(p);
        memcpy(tok, p, n);
        tok[n] = '\0';
        char *val = strchr(tok, '=');
        if (val)
            *val++ = '\0';
        const char *key = tok;
        if (!*key) {
            FAIL("empty action in '%s'", rule);
        } else if (!strcmp(key, "error")) {
            if (!val || !*val)
                FAIL("error= needs an errno name, a number or 'any' in '%s'", rule);
            unsigned long num;
            if (!strcmp(val, "any"))
                r->err = -1;
            else if (number(val, strlen(val), 1, 4095, &num) == 0)
                r->err = (int)num;
            else if ((r->err = ipcv_faults_errno(val)) < 0)
                FAIL("unknown errno '%s' in '%s'", val, rule);
            r->acts |= IPCV_A_ERROR;
        } else if (!strcmp(key, "signal")) {
            if (!val || (r->sig = ipcv_signal_number(val)) < 0)
                FAIL("unknown signal '%s' in '%s'", val ? val : "", rule);
            r->acts |= IPCV_A_SIGNAL;
        } else if (!strcmp(key, "crash")) {
            if (val)
                FAIL("crash takes no value: '%s=%s' in '%s'", key, val, rule);
            r->sig = SIGKILL;
            r->acts |= IPCV_A_SIGNAL;
        } else if (!strcmp(key, "crash_after")) {
            if (val)
                FAIL("crash_after takes no value: '%s=%s' in '%s'", key, val, rule);
            r->acts |= IPCV_A_CRASH_AFTER;
        } else if (!strcmp(key, "delay_enter") || !strcmp(key, "delay_exit")) {
            int enter = key[6] == 'e' && key[7] == 'n';
            if (!val || parse_delay(val, enter ? &r->de_lo : &r->dx_lo,
                                    enter ? &r->de_hi : &r->dx_hi) < 0)
                FAIL("bad delay '%s' in '%s' (microseconds: US or LO..HI)", val ? val : "", rule);
            r->acts |= enter ? IPCV_A_DELAY_ENTER : IPCV_A_DELAY_EXIT;
        } else if (!strcmp(key, "short")) {
            unsigned long num;
            if (!val || number(val, strlen(val), 1, ~0UL >> 1, &num) < 0)
                FAIL("bad byte count '%s' in '%s' (short=N, N >= 1)", val ? val : "", rule);
            r->short_n = num;
            r->acts |= IPCV_A_SHORT;
        } else if (!strcmp(key, "when")) {
            if (have_when++)
                FAIL("when given twice in '%s'", rule);
            if (!val || (strncmp(val, "p=", 2) ? parse_when(val, r) : parse_prob(val + 2, r)) < 0)
                FAIL("bad when '%s' in '%s' (N, N..M, N+, N+S, N..M+S or p=P)", val ? val : "", rule);
        } else if (!strcmp(key, "p")) {
            if (have_when++)
                FAIL("when given twice in '%s'", rule);
            if (!val || parse_prob(val, r) < 0)
                FAIL("bad probability '%s' in '%s' (0 < P <= 1)", val ? val : "", rule);
        } else if (!strcmp(key, "site")) {
            /* MODULE+0xOFFSET, as explore's recording names call sites. */
            const char *plus = val ? strrchr(val, '+') : NULL;
            char *end = NULL;
            if (!plus || plus == val || strlen(val) >= sizeof r->site || strchr(val, '/') ||
                strncmp(plus + 1, "0x", 2) || (strtoul(plus + 3, &end, 16), !plus[3] || *end))
                FAIL("bad site '%s' in '%s' (MODULE+0xOFFSET)", val ? val : "", rule);
            snprintf(r->site, sizeof r->site, "%s", val);
        } else if (!strcmp(key, "proc")) {
            if (have_proc++)
                FAIL("proc given twice in '%s'", rule);
            if (!val || parse_proc(val, r) < 0)
                FAIL("bad proc '%s' in '%s' (root, child, a lineage like 0.1.2, or comm=NAME)",
                     val ? val : "", rule);
        } else {
            FAIL("unknown action '%s' in '%s'", key, rule);
        }
        if (!next)
            break;
        p = next + 1;
    }
    if (!r->acts)
        FAIL("no action in '%s' (error=E, signal=S, crash, crash_after, delay_enter=US, "
             "delay_exit=US or short=N)", rule);
    if ((r->acts & IPCV_A_ERROR) && (r->acts & IPCV_A_CRASH_AFTER))
        FAIL("crash_after needs the call to succeed: it cannot go with error= in '%s'", rule);
    if ((r->acts & IPCV_A_ERROR) && (r->acts & IPCV_A_SHORT))
        FAIL("short= needs the call to run: it cannot go with error= in '%s'", rule);
    if (r->acts & IPCV_A_SHORT) {
        for (size_t f = 0; f < IPCV_NFN; f++)
            if (r->fdmask[f] && !(ipcv_points[f].flags & IPCV_F_LENGTH))
                FAIL("short=%zu does not apply to %s (it has no transfer length) in '%s'",
                     r->short_n, ipcv_points[f].function, rule);
    }
    return 0;
}

IPCV_EXPORT int ipcv_faults_check(const char *rule, char *err, size_t errlen)
{
    struct ipcv_rule r;
    return ipcv_rule_parse(rule, &r, err, errlen);
}
