/* ipcvet clean: remove what an interrupted run without namespaces
 * (--isolate none) may have left: POSIX names with ipcvet's prefix, its
 * private directories, and Criterion's sockets and arenas of runners that
 * are gone.
 * SysV objects carry no name; those whose key comes from an ipcvet
 * directory that no longer exists are listed, never guessed at. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <mqueue.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "sandbox.h"

static int dry;
static int found;

static int pid_alive(long pid)
{
    return pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

/* Our names are "ipcv<pid>.<suffix>"; keep those whose pid still runs. */
static long owner_pid(const char *name, const char *prefix)
{
    size_t n = strlen(prefix);
    if (strncmp(name, prefix, n))
        return -1;
    char *end;
    long pid = strtol(name + n, &end, 10);
    return end != name + n && (*end == '.' || *end == '\0' || *end == '_') ? pid : -1;
}

static void act(const char *what, const char *name, int (*rm)(const char *), const char *arg)
{
    found++;
    if (dry) {
        printf("would remove %s %s\n", what, name);
        return;
    }
    if (rm(arg) == 0)
        printf("removed %s %s\n", what, name);
    else
        fprintf(stderr, "ipcvet: clean: cannot remove %s %s: %s\n", what, name, strerror(errno));
}

static int rm_tree(const char *path)
{
    pid_t pid = fork();
    if (pid == 0) {
        execlp("rm", "rm", "-rf", "--one-file-system", path, (char *)NULL);
        _exit(127);
    }
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) < 0)
        return -1;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static int rm_sem(const char *name) { return sem_unlink(name); }

static void scan(const char *dir, const char *prefix, const char *what, int (*rm)(const char *),
                 int posix_name)
{
    /* Queues: the mqueue fs even where /dev/mqueue is not mounted. */
    int fd = !strcmp(dir, "/dev/mqueue") ? ipcv_mqueue_dir() : -1;
    DIR *d = fd >= 0 ? fdopendir(fd) : opendir(dir);
    if (!d) {
        if (fd >= 0)
            close(fd);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *n = e->d_name;
        int sem = posix_name && !strncmp(n, "sem.", 4);
        const char *base = sem ? n + 4 : n;
        long pid = owner_pid(base, prefix);
        if (pid < 0 || pid_alive(pid))
            continue;
        char arg[512];
        if (posix_name)
            snprintf(arg, sizeof arg, "/%s", base);
        else
            snprintf(arg, sizeof arg, "%s/%s", dir, n);
        act(sem ? "posix_sem" : what, arg, sem ? rm_sem : rm, arg);
    }
    closedir(d);
}

int ipcv_cmd_clean(int argc, char **argv)
{
    static const struct option opts[] = { { "dry-run", no_argument, NULL, 'n' }, { 0 } };
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'n')
            dry = 1;
        else
            ipcv_usage_error("clean: unknown option '%s'", ipcv_bad_option(argv));
    }
    if (optind < argc)
        ipcv_usage_error("clean: unexpected argument '%s'", argv[optind]);

    scan("/dev/shm", "ipcv", "posix_shm", shm_unlink, 1);
    scan("/dev/mqueue", "ipcv", "posix_mq", mq_unlink, 1);
    scan("/tmp", "ipcvet.", "directory", rm_tree, 0);
    scan("/tmp", "criterion_", "criterion socket", unlink, 0);
    scan("/dev/shm", "bxfi_", "criterion arena", shm_unlink, 1);
    if (!found)
        printf("nothing to clean\n");
    return IPCV_EXIT_OK;
}
