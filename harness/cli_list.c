/* ipcvet list: the built-in cases, as a table or as JSON. */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "case.h"
#include "cli.h"

static void json_words(FILE *f, const char *words)
{
    fputc('[', f);
    int first = 1;
    for (const char *p = words ? words : ""; *p;) {
        p += strspn(p, " ,");
        size_t n = strcspn(p, " ,");
        if (!n)
            break;
        char w[64];
        snprintf(w, sizeof w, "%.*s", (int)n, p);
        fputs(first ? "" : ", ", f);
        ipcv_json_str(f, w);
        first = 0;
        p += n;
    }
    fputc(']', f);
}

int ipcv_cmd_list(int argc, char **argv)
{
    static const struct option opts[] = {
        { "mech", required_argument, NULL, 'm' }, { "tag", required_argument, NULL, 't' },
        { "filter", required_argument, NULL, 'f' }, { "json", no_argument, NULL, 'J' },
        { "ids", no_argument, NULL, 'I' },
        { 0 },
    };
    struct ipcv_selection sel = { 0 };
    int json = 0, ids = 0, c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case 'm': ipcv_check_mechs(optarg); sel.mechs = optarg; break;
        case 't': ipcv_check_tag(optarg); sel.tag = optarg; break;
        case 'f': sel.filter = optarg; break;
        case 'J': json = 1; break;
        case 'I': ids = 1; break;
        case ':': ipcv_usage_error("list: option '%s' needs a value", argv[optind - 1]);
        default: ipcv_usage_error("list: unknown option '%s'", ipcv_bad_option(argv));
        }
    }
    if (optind < argc)
        ipcv_usage_error("list: unexpected argument '%s'", argv[optind]);

    const struct ipcv_case_meta *m;
    int n = 0;
    if (json)
        puts("[");
    IPCV_FOREACH_CASE(m) {
        if (!ipcv_case_selected(m, &sel))
            continue;
        if (ids) {
            /* One line per behaviour id a case covers: "B123<TAB>mech/name". */
            for (const char *p = m->covers ? m->covers : ""; *p;) {
                p += strspn(p, " ,");
                size_t len = strcspn(p, " ,");
                if (len)
                    printf("%.*s\t%s/%s\n", (int)len, p, m->mech, m->name);
                p += len;
            }
        } else if (json) {
            printf("%s  {\"mechanism\": ", n ? ",\n" : "");
            ipcv_json_str(stdout, m->mech);
            fputs(", \"name\": ", stdout);
            ipcv_json_str(stdout, m->name);
            fputs(", \"tags\": ", stdout);
            json_words(stdout, m->tags);
            fputs(", \"behaviours\": ", stdout);
            json_words(stdout, m->covers);
            fputs(", \"description\": ", stdout);
            ipcv_json_str(stdout, m->desc);
            fputs(", \"spec\": ", stdout);
            ipcv_json_str(stdout, m->spec);
            printf(", \"file\": \"%s:%d\"}", m->file, m->line);
        } else {
            printf("%-12s %-58s %s\n", m->mech, m->name, m->tags ? m->tags : "");
        }
        n++;
    }
    if (json)
        puts("\n]");
    if (!n && (sel.mechs || sel.tag || sel.filter)) {
        fprintf(stderr, "ipcvet: list: no case matches%s%s%s%s%s%s\n", sel.mechs ? " --mech " : "",
                sel.mechs ? sel.mechs : "", sel.tag ? " --tag " : "", sel.tag ? sel.tag : "",
                sel.filter ? " --filter " : "", sel.filter ? sel.filter : "");
        return IPCV_EXIT_USAGE;
    }
    return IPCV_EXIT_OK;
}
