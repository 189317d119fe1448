#define _GNU_SOURCE
#include "cli.h"

#include <errno.h>
#include <fnmatch.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "case.h"

const char *const ipcv_mechanisms[] = {
    "sysv_shm", "posix_shm", "mmap_file", "sysv_msg", "posix_mq", "sysv_sem",
    "posix_sem", "pshared", "pipe", "fifo", "unix_socket", "inet_socket", NULL,
};
static const char *const tags[] = {
    "api", "multi", "sync", "crash", "fault", "limit", "cleanup", NULL,
};

void ipcv_usage_error(const char *fmt, ...)
{
    va_list ap;
    fputs("ipcvet: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(IPCV_EXIT_USAGE);
}

long ipcv_parse_count(const char *opt, const char *s, long min, long max)
{
    char *end;
    errno = 0;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || !*s || *end || errno || v < min || v > max)
        ipcv_usage_error("%s: expected a whole number from %ld to %ld, got '%s'", opt, min,
                         max, s ? s : "");
    return v;
}

static int in_list(const char *list, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = list; p && *p;) {
        const char *end = p + strcspn(p, ", ");
        if ((size_t)(end - p) == n && !strncmp(p, word, n))
            return 1;
        p = end + strspn(end, ", ");
    }
    return 0;
}

void ipcv_check_mechs(const char *list)
{
    for (const char *p = list; *p;) {
        size_t n = strcspn(p, ",");
        int ok = 0;
        for (int i = 0; ipcv_mechanisms[i]; i++)
            ok |= strlen(ipcv_mechanisms[i]) == n && !strncmp(ipcv_mechanisms[i], p, n);
        if (!ok)
            ipcv_usage_error("--mech: unknown mechanism '%.*s' (one of sysv_shm posix_shm "
                             "mmap_file sysv_msg posix_mq sysv_sem posix_sem pshared pipe fifo "
                             "unix_socket inet_socket)", (int)n, p);
        p += n + (p[n] == ',');
    }
}

void ipcv_check_tag(const char *tag)
{
    for (int i = 0; tags[i]; i++)
        if (!strcmp(tags[i], tag))
            return;
    ipcv_usage_error("--tag: unknown tag '%s' (one of api multi sync crash fault limit cleanup)", tag);
}

int ipcv_case_selected(const struct ipcv_case_meta *m, const struct ipcv_selection *sel)
{
    if (sel->mechs && !in_list(sel->mechs, m->mech))
        return 0;
    if (sel->tag && !in_list(m->tags, sel->tag))
        return 0;
    if (sel->filter) {
        char full[256];
        snprintf(full, sizeof full, "%s/%s", m->mech, m->name);
        /* With a '/' the pattern names mech/name, without one the case
         * alone: trying both would let '!(x)' select x through "mech/x". */
        if (fnmatch(sel->filter, strchr(sel->filter, '/') ? full : m->name, FNM_EXTMATCH))
            return 0;
    }
    return 1;
}

const char *ipcv_bad_option(char **argv)
{
    static char buf[8];
    const char *arg = argv[optind - 1];
    if (optopt && strncmp(arg, "--", 2)) {
        snprintf(buf, sizeof buf, "-%c", optopt);
        return buf;
    }
    return arg;
}

void ipcv_json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", f);
        else if (c == '\t')
            fputs("\\t", f);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}
