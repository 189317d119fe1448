/* Helpers of the exec and faults tests (tests/test_exec_*.c,
 * tests/test_faults_*.c): the fixture programs and `ipcvet exec --json`. */
#ifndef IPCV_TEST_EXEC_SUPPORT_H
#define IPCV_TEST_EXEC_SUPPORT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_support.h"

/* Lines of `after` not in `before`, without Criterion's own arenas
 * (/dev/shm/bxfi_*, made by workers that start meanwhile). */
static inline char *host_added(const char *before, const char *after)
{
    char *added = sup_new_lines(before, after);
    char *w = added;
    for (const char *l = added; *l;) {
        size_t n = strcspn(l, "\n");
        int keep = !strstr(l, "bxfi_") || (size_t)(strstr(l, "bxfi_") - l) > n;
        if (keep) {
            memmove(w, l, n);
            w += n;
            if (l[n])
                *w++ = '\n';
        }
        l += n + (l[n] != 0);
    }
    *w = '\0';
    return added;
}

/* $IPCVET_FIXTURES/rel (make selftest sets it), else next to ipcvet-demo. */
static inline const char *fixture(const char *rel)
{
    static char buf[8][512];
    static int k;
    char *b = buf[k++ % 8];
    const char *dir = getenv("IPCVET_FIXTURES");
    if (dir && *dir) {
        snprintf(b, sizeof buf[0], "%s/%s", dir, rel);
    } else {
        char demo[400];
        snprintf(demo, sizeof demo, "%s", sup_demo());
        char *slash = strrchr(demo, '/');
        if (slash)
            *slash = '\0';
        snprintf(b, sizeof buf[0], "%s/fixtures/%s", demo, rel);
    }
    return b;
}

/* ipcvet exec --json FILE ARGS..; the parsed report (NULL if none). */
static inline struct sup_json *exec_json(struct sup_cmd *c, double seconds, const char *const *args)
{
    static unsigned k;
    char path[512];
    snprintf(path, sizeof path, "%s/exec-%d-%u.json", sup_scratch(), (int)getpid(), ++k);
    const char *argv[64];
    int n = 0;
    argv[n++] = sup_ipcvet();
    argv[n++] = "exec";
    argv[n++] = "--json";
    argv[n++] = path;
    for (int i = 0; args[i] && n < 63; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    unlink(path);
    sup_run(c, seconds, argv, NULL);
    char *text = sup_read_file(path);
    unlink(path);
    if (!text)
        return NULL;
    char err[256];
    struct sup_json *j = sup_json_parse(text, err, sizeof err);
    free(text);
    return j;
}
#define EXEC_JSON(c, secs, ...) exec_json((c), (secs), SUP_ARGV(__VA_ARGS__))

static inline const char *jstr(const struct sup_json *o, const char *key)
{
    const struct sup_json *v = o ? sup_json_get(o, key) : NULL;
    return v && v->type == SUP_JSTR ? v->str : NULL;
}

static inline double jnum(const struct sup_json *o, const char *key, double dflt)
{
    const struct sup_json *v = o ? sup_json_get(o, key) : NULL;
    return v && v->type == SUP_JNUM ? v->num : v && v->type == SUP_JBOOL ? v->boolean : dflt;
}

/* The process of the report with this lineage. */
static inline const struct sup_json *jproc(const struct sup_json *report, const char *lineage)
{
    const struct sup_json *ps = report ? sup_json_get(report, "processes") : NULL;
    for (size_t i = 0; ps && i < ps->n; i++) {
        const char *l = jstr(&ps->items[i], "lineage");
        if (l && !strcmp(l, lineage))
            return &ps->items[i];
    }
    return NULL;
}

static inline size_t jlen(const struct sup_json *o, const char *key)
{
    const struct sup_json *v = o ? sup_json_get(o, key) : NULL;
    return v && (v->type == SUP_JARR || v->type == SUP_JOBJ) ? v->n : 0;
}

#endif
