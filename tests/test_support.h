/* Shared helpers of ipcvet's own tests (tests/test_support*.c; the Makefile
 * builds tests/test_*.c, hence the names). They run in the Criterion worker
 * only: nothing here forks a child that could call cr_*. */
#ifndef IPCV_TEST_SUPPORT_H
#define IPCV_TEST_SUPPORT_H

#include <stddef.h>
#include <sys/types.h>

/* Paths given by `make selftest`: bin/ipcvet, build/ipcvet-demo, the repo. */
const char *sup_ipcvet(void);
const char *sup_demo(void);
const char *sup_top(void);
/* A directory for files the tests write (next to ipcvet-demo). */
const char *sup_scratch(void);

/* ---- running the binaries ------------------------------------------- */

/* Every process started here, and everything it starts, carries
 * IPCVET_SELFTEST_TAG=<tag> in its environment: that is how a test finds
 * what is left of a run (pids and executables are shared with other tests
 * running in parallel). */
#define SUP_TAG_VAR "IPCVET_SELFTEST_TAG"

struct sup_proc {
    pid_t pid;
    int out_fd, err_fd;
    char *out, *err;            /* what was read so far, NUL-terminated */
    size_t out_len, err_len;
    char tag[48];
    double started;
};

struct sup_cmd {
    int status;                 /* raw wait status */
    int code;                   /* exit status, or -1 if killed */
    int sig;                    /* the signal that killed it, or 0 */
    int timed_out;              /* we had to kill it */
    double seconds;
    char *out, *err;
    char tag[48];
};

/* Start argv[0] (a path) with argv; stdin is /dev/null, stdout and stderr
 * are pipes. env_extra ("NAME=VALUE" or "NAME" to unset) changes the
 * inherited environment, from which Criterion's own variables (BXFI_*,
 * CRITERION_*) and IPCVET_TIMEOUT_MUL / IPCVET_ISOLATE are removed. The child
 * dies with the test (PR_SET_PDEATHSIG). */
void sup_start(struct sup_proc *p, const char *const *argv, const char *const *env_extra);
/* In env_extra, SUP_SHM_DIR "=DIR" (not passed on) runs the command in a
 * mount namespace of its own with DIR bound on /dev/shm: for --isolate none
 * runs, whose census would otherwise see (and remove) the /dev/shm files
 * of this selftest's own Criterion runner. SysV and queues stay the host's. */
#define SUP_SHM_DIR "SUP_SHM_DIR"
/* A fresh empty directory for that (under sup_scratch()), and its removal. */
const char *sup_fresh_dir(const char *what);
void sup_remove_dir(const char *dir);
/* Read what is ready (waiting at most `seconds`); 1 once both pipes hit EOF. */
int sup_pump(struct sup_proc *p, double seconds);
/* Read until stdout contains `text` or `seconds` pass; 1 if it appeared. */
int sup_wait_output(struct sup_proc *p, const char *text, double seconds);
/* Wait for the end (killing it after `seconds`), fill `c`, free `p`. */
void sup_finish(struct sup_proc *p, double seconds, struct sup_cmd *c);

void sup_run(struct sup_cmd *c, double seconds, const char *const *argv,
             const char *const *env_extra);
void sup_cmd_free(struct sup_cmd *c);

/* Run ipcvet / ipcvet-demo with the given arguments and a bound. */
#define SUP_ARGV(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define RUN_IPCVET(c, secs, ...) sup_run((c), (secs), SUP_ARGV(sup_ipcvet(), __VA_ARGS__), NULL)
#define RUN_DEMO(c, secs, ...)   sup_run((c), (secs), SUP_ARGV(sup_demo(), __VA_ARGS__), NULL)
#define RUN_DEMO_ENV(c, secs, env, ...) \
    sup_run((c), (secs), SUP_ARGV(sup_demo(), __VA_ARGS__), (env))

/* The demo cases a normal run must never start (it would wait 30 s). */
#define SUP_NOT_SLOW "demo/!(slow_for_sigkill)"

/* Processes whose environment carries the tag; returns how many (up to
 * max pids stored), a description of the first few in desc. */
int sup_procs_with_tag(const char *tag, pid_t *pids, int max, char *desc, size_t desclen);
/* Poll (bounded) until no process carries the tag; 1 if none is left. */
int sup_wait_no_procs(const char *tag, double seconds);

/* ---- the host's IPC state --------------------------------------------- */

/* Sorted lines: "sysv_shm KEY ID", "sysv_msg ..", "sysv_sem ..",
 * "dev-shm NAME", "mqueue NAME" (the host's mqueue fs, read through a
 * detached mount when /dev/mqueue is absent), "tmp NAME" for /tmp entries
 * named criterion_* or ipcvet.* (a run's socket, a none-mode tmpdir). */
char *sup_host_snapshot(void);
/* Lines of `after` that are not in `before` ("" when none), leaving out
 * names whose owner pid still runs (criterion_PID.sock, bxfi_PID,
 * bxf_arena_PID, ipcvPID.*, ipcvet.PID.*): those are another run's, not
 * leftovers. */
char *sup_new_lines(const char *before, const char *after);

/* Tests that change or compare the host's IPC state hold this lock (an
 * flock on the selftest binary) so parallel workers do not see each other. */
int sup_host_lock(void);
void sup_host_unlock(int fd);

/* ---- text -------------------------------------------------------------- */

char *sup_read_file(const char *path);          /* NULL if unreadable */
int sup_count_lines(const char *s);
int sup_count(const char *s, const char *needle);
/* Line number (1-based) of the first line of file containing needle, 0 if none. */
int sup_line_of(const char *path, const char *needle);
/* Replace run-dependent parts: pids in names, SysV keys, creator pids,
 * demo_cases.c line numbers. Returns malloc'd text. */
char *sup_normalize(const char *s);
/* Compare with tests/expected/NAME; on a difference, write the actual text
 * next to ipcvet-demo (selftest-actual/NAME) and say where they differ.
 * IPCVET_UPDATE_EXPECTED=1 rewrites the expected file instead. Returns NULL
 * when equal, else a malloc'd explanation. */
char *sup_golden_diff(const char *name, const char *actual);

/* ---- JSON and XML, strict enough to reject what a real parser rejects -- */

enum sup_jtype { SUP_JNULL, SUP_JBOOL, SUP_JNUM, SUP_JSTR, SUP_JARR, SUP_JOBJ };
struct sup_json {
    enum sup_jtype type;
    int boolean;
    double num;
    char *str;                  /* decoded string */
    size_t n;                   /* items of an array or object */
    struct sup_json *items;
    char **keys;                /* object keys, decoded */
};
struct sup_json *sup_json_parse(const char *text, char *err, size_t errlen);
const struct sup_json *sup_json_get(const struct sup_json *obj, const char *key);
void sup_json_free(struct sup_json *v);

struct sup_xml {
    char *name;
    size_t nattrs;
    char **attr_names, **attr_values;     /* values decoded */
    size_t nkids;
    struct sup_xml **kids;
    char *text;                 /* decoded character data of this element */
};
/* Well-formedness (XML 1.0 subset: declaration, comments, CDATA, elements,
 * attributes, the five entities and character references). */
struct sup_xml *sup_xml_parse(const char *text, char *err, size_t errlen);
const char *sup_xml_attr(const struct sup_xml *e, const char *name);
void sup_xml_free(struct sup_xml *e);


/* ---- running demo cases ------------------------------------------------- */

/* ipcvet-demo run ARGS.. --json FILE; returns the parsed report (NULL if
 * none was written) and fills c. */
struct sup_json *sup_run_demo_json(struct sup_cmd *c, double seconds, const char *const *env,
                                   const char *const *args);
#define RUN_DEMO_JSON(c, secs, env, ...) sup_run_demo_json((c), (secs), (env), SUP_ARGV(__VA_ARGS__))
/* The result of case `name` in such a report, and one of its strings ("" if absent). */
const struct sup_json *sup_result(const struct sup_json *report, const char *name);
const char *sup_result_str(const struct sup_json *report, const char *name, const char *field);

#endif
