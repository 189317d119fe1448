/* Helpers of the explore tests (tests/test_explore_*.c): `ipcvet explore
 * --json`, its findings, and running a finding's reproducer through
 * `ipcvet exec` to see the same thing happen again. */
#ifndef IPCV_TEST_EXPLORE_SUPPORT_H
#define IPCV_TEST_EXPLORE_SUPPORT_H

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_exec_support.h"

/* ipcvet explore --json - ARGS..: the parsed report (NULL if none); the
 * human report is then left out, progress is still on stderr. */
static inline struct sup_json *explore_json(struct sup_cmd *c, double seconds, const char *const *args)
{
    const char *argv[64] = { sup_ipcvet(), "explore", "--json", "-" };
    int n = 4;
    for (int i = 0; args[i] && n < 63; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    sup_run(c, seconds, argv, NULL);
    char err[256];
    return c->out && *c->out ? sup_json_parse(c->out, err, sizeof err) : NULL;
}
#define EXPLORE_JSON(c, secs, ...) explore_json((c), (secs), SUP_ARGV(__VA_ARGS__))

/* The first finding of that class and kind (kind NULL: any). */
static inline const struct sup_json *xfinding(const struct sup_json *report, const char *cls, const char *kind)
{
    const struct sup_json *fs = report ? sup_json_get(report, "findings") : NULL;
    for (size_t i = 0; fs && i < fs->n; i++) {
        const char *c = jstr(&fs->items[i], "class"), *k = jstr(&fs->items[i], "kind");
        if (c && !strcmp(c, cls) && (!kind || (k && !strcmp(k, kind))))
            return &fs->items[i];
    }
    return NULL;
}

/* All findings, one per line, for messages. */
static inline char *xfindings_text(const struct sup_json *report)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    const struct sup_json *fs = report ? sup_json_get(report, "findings") : NULL;
    for (size_t i = 0; fs && i < fs->n; i++)
        fprintf(f, "  %s %s %s: %s\n", jstr(&fs->items[i], "class"), jstr(&fs->items[i], "kind"),
                jstr(&fs->items[i], "what"), jstr(&fs->items[i], "detail"));
    fclose(f);
    return buf;
}

/* Split a reproducer line the way a POSIX shell would (words, '...'). */
static inline int shell_words(const char *s, char **out, int max)
{
    int n = 0;
    while (*s && n < max - 1) {
        while (*s == ' ')
            s++;
        if (!*s)
            break;
        char *w = calloc(1, strlen(s) + 1), *p = w;
        while (*s && *s != ' ') {
            if (*s == '\'') {
                for (s++; *s && *s != '\''; s++)
                    *p++ = *s;
                if (*s)
                    s++;
            } else if (*s == '\\' && s[1]) {
                *p++ = s[1];
                s += 2;
            } else {
                *p++ = *s++;
            }
        }
        out[n++] = w;
    }
    out[n] = NULL;
    return n;
}

static inline int crash_signal_name(const char *sig)
{
    static const char *const crashes[] = { "SIGSEGV", "SIGBUS", "SIGFPE", "SIGILL", "SIGABRT", "SIGPIPE", NULL };
    for (int i = 0; sig && crashes[i]; i++)
        if (!strcmp(sig, crashes[i]))
            return 1;
    return 0;
}

/* Run the finding's reproducer (`ipcvet exec ... -- CMD`) with --json and
 * say whether exec sees what the class says: 1 yes, 0 no (why in `why`). */
static inline int reproduces(const struct sup_json *finding, char *why, size_t whylen)
{
    const char *line = jstr(finding, "reproducer"), *cls = jstr(finding, "class");
    why[0] = '\0';
    char *words[64];
    int n = line ? shell_words(line, words, 64) : 0;
    if (n < 3 || strcmp(words[0], "ipcvet") || strcmp(words[1], "exec")) {
        snprintf(why, whylen, "not an exec line: '%s'", line ? line : "(none)");
        return 0;
    }
    const char *args[64];
    int k = 0;
    for (int i = 2; i < n && k < 63; i++)
        args[k++] = words[i];
    args[k] = NULL;
    struct sup_cmd c;
    struct sup_json *j = exec_json(&c, 120, args);
    int ok = 0;
    if (!j) {
        snprintf(why, whylen, "exec wrote no report (exit %d): %s", c.code, c.err);
    } else if (c.code != 1) {
        snprintf(why, whylen, "exec exit %d, expected 1: %s", c.code, c.err);
    } else if (!strcmp(cls, "hang")) {
        ok = jnum(j, "timed_out", 0) == 1;
    } else if (!strcmp(cls, "leak")) {
        ok = jlen(j, "leaks") > 0;
    } else if (!strcmp(cls, "crash")) {
        const struct sup_json *ps = sup_json_get(j, "processes");
        for (size_t i = 0; ps && i < ps->n; i++)
            ok |= crash_signal_name(jstr(&ps->items[i], "signal")) && !jstr(&ps->items[i], "injected");
    } else if (!strcmp(cls, "wrong-result")) {
        const struct sup_json *root = jproc(j, "0");
        ok = root && jnum(root, "code", 0) != 0;
    }
    if (j && !ok && !why[0])
        snprintf(why, whylen, "exec did not show a %s: %s", cls, c.err);
    for (int i = 0; i < n; i++)
        free(words[i]);
    sup_json_free(j);
    sup_cmd_free(&c);
    return ok;
}

#endif
