/* ipcvet points: every injection point of libipcvet-faults.so, read from
 * the table the wrappers were generated from (faults/ipc.tbl). */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "faults.h"

static int known_family(const char *f)
{
    for (size_t i = 0; i < ipcv_faults_npoints(); i++)
        if (!strcmp(ipcv_faults_point(i)->family, f))
            return 1;
    return 0;
}

static void families(char *buf, size_t len)
{
    buf[0] = '\0';
    for (size_t i = 0; i < ipcv_faults_npoints(); i++) {
        const char *f = ipcv_faults_point(i)->family;
        if (i && !strcmp(ipcv_faults_point(i - 1)->family, f))
            continue;
        snprintf(buf + strlen(buf), len - strlen(buf), "%s%s", buf[0] ? " " : "", f);
    }
}

static void flags_text(const struct ipcv_point *p, char *buf, size_t len)
{
    snprintf(buf, len, "%s%s%s%s%s", p->flags & IPCV_F_BLOCKS ? "blocks " : "",
             p->flags & IPCV_F_CREATES ? "creates " : "", p->flags & IPCV_F_DESTROYS ? "destroys " : "",
             p->flags & IPCV_F_LENGTH ? "short " : "", p->flags & IPCV_F_FDSCOPE ? "fd-scoped " : "");
    size_t n = strlen(buf);
    if (n)
        buf[n - 1] = '\0';
    else
        snprintf(buf, len, "-");
}

static void json_point(const struct ipcv_point *p, int first)
{
    printf("%s\n  {\"point\": \"%s\", \"function\": \"%s\", \"family\": \"%s\", \"returns\": ",
           first ? "" : ",", p->point, p->function, p->family);
    ipcv_json_str(stdout, ipcv_faults_ret_name(p->ret));
    fputs(", \"errnos\": [", stdout);
    for (unsigned e = 0; e < p->nerrnos; e++)
        printf("%s\"%s\"", e ? ", " : "", ipcv_faults_errname(p->errnos[e]));
    printf("], \"blocks\": %s, \"creates\": %s, \"destroys\": %s, \"short\": %s, \"fd_scoped\": %s, "
           "\"classes\": [",
           p->flags & IPCV_F_BLOCKS ? "true" : "false", p->flags & IPCV_F_CREATES ? "true" : "false",
           p->flags & IPCV_F_DESTROYS ? "true" : "false", p->flags & IPCV_F_LENGTH ? "true" : "false",
           p->flags & IPCV_F_FDSCOPE ? "true" : "false");
    int any = 0;
    for (size_t c = 0; c < ipcv_faults_nclasses(); c++)
        if (p->classes[c])
            printf("%s\"%s\"", any++ ? ", " : "", ipcv_faults_class_name(c));
    fputs("]}", stdout);
}

int ipcv_cmd_points(int argc, char **argv)
{
    static const struct option opts[] = {
        { "family", required_argument, NULL, 'f' }, { "json", no_argument, NULL, 'J' }, { 0 },
    };
    const char *family = NULL;
    int json = 0, c;
    opterr = 0;
    optind = 0;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case 'f': family = optarg; break;
        case 'J': json = 1; break;
        case ':': ipcv_usage_error("points: option '%s' needs a value", argv[optind - 1]);
        default: ipcv_usage_error("points: unknown option '%s'", ipcv_bad_option(argv));
        }
    }
    if (optind < argc)
        ipcv_usage_error("points: unexpected argument '%s'", argv[optind]);
    if (family && !known_family(family)) {
        char all[256];
        families(all, sizeof all);
        ipcv_usage_error("points: --family: unknown family '%s' (one of %s)", family, all);
    }
    if (json)
        fputs("[", stdout);
    else
        printf("%-36s %-9s %-21s %-24s %s\n", "point", "family", "returns", "flags", "errnos");
    int first = 1;
    for (size_t i = 0; i < ipcv_faults_npoints(); i++) {
        const struct ipcv_point *p = ipcv_faults_point(i);
        if (family && strcmp(p->family, family))
            continue;
        if (json) {
            json_point(p, first);
        } else {
            char flags[64], errs[256] = "";
            flags_text(p, flags, sizeof flags);
            for (unsigned e = 0; e < p->nerrnos; e++)
                snprintf(errs + strlen(errs), sizeof errs - strlen(errs), "%s%s", e ? " " : "",
                         ipcv_faults_errname(p->errnos[e]));
            printf("%-36s %-9s %-21s %-24s %s\n", p->point, p->family, ipcv_faults_ret_name(p->ret),
                   flags, errs);
        }
        first = 0;
    }
    if (json)
        puts("\n]");
    return IPCV_EXIT_OK;
}
