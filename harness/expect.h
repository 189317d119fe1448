/* Checks that record and continue. Roles and the coordinator use the same
 * macros: every result lands in the case's shared result page, and only the
 * coordinator (the Criterion worker) turns the page into Criterion results.
 * A failing cr_assert in a forked child would hang Criterion 2.4.1. */
#ifndef IPCV_EXPECT_H
#define IPCV_EXPECT_H

#include <errno.h>
#include <stdint.h>
#include <string.h>

enum ipcv_verdict { IPCV_FAIL = 1, IPCV_BROKEN, IPCV_SKIP };

/* Record one result; file/line name the check, not this function. */
void ipcv_record(enum ipcv_verdict v, const char *file, int line,
                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Broken set-up: record, then stop the case (coordinator) or the role. */
_Noreturn void ipcv_brk(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The environment cannot run this case: skip with the reason. */
_Noreturn void ipcv_skip_at(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define ipcv_skip(...) ipcv_skip_at(__FILE__, __LINE__, __VA_ARGS__)

const char *ipcv_errname(int err);   /* "ENOSPC", or "errno 512" */

/* Expected first, seen second (kselftest order). */
#define ipcv_expect_eq(expected, seen) do {                                   \
    intmax_t e_ = (intmax_t)(expected), s_ = (intmax_t)(seen);                \
    if (e_ != s_)                                                             \
        ipcv_record(IPCV_FAIL, __FILE__, __LINE__,                            \
                    "%s == %s: expected %jd, seen %jd", #expected, #seen,     \
                    e_, s_);                                                  \
} while (0)

#define ipcv_expect_ne(unexpected, seen) do {                                 \
    intmax_t e_ = (intmax_t)(unexpected), s_ = (intmax_t)(seen);              \
    if (e_ == s_)                                                             \
        ipcv_record(IPCV_FAIL, __FILE__, __LINE__,                            \
                    "%s != %s: both are %jd", #unexpected, #seen, s_);        \
} while (0)

#define ipcv_expect_true(cond, ...) do {                                      \
    if (!(cond))                                                              \
        ipcv_record(IPCV_FAIL, __FILE__, __LINE__, __VA_ARGS__);             \
} while (0)

/* All of `bits` set in `value`. */
#define ipcv_expect_bits(bits, value) do {                                    \
    uintmax_t b_ = (uintmax_t)(bits), v_ = (uintmax_t)(value);                \
    if ((v_ & b_) != b_)                                                      \
        ipcv_record(IPCV_FAIL, __FILE__, __LINE__,                            \
                    "%s set in %s: expected bits %#jx, seen %#jx", #bits,     \
                    #value, b_, v_);                                          \
} while (0)

#define ipcv_expect_nobits(bits, value) do {                                  \
    uintmax_t b_ = (uintmax_t)(bits), v_ = (uintmax_t)(value);                \
    if (v_ & b_)                                                              \
        ipcv_record(IPCV_FAIL, __FILE__, __LINE__,                            \
                    "%s clear in %s: seen %#jx", #bits, #value, v_);          \
} while (0)

#define ipcv_expect_mem(expected, seen, len) do {                             \
    if (memcmp((expected), (seen), (len)) != 0)                               \
        ipcv_record(IPCV_FAIL, __FILE__, __LINE__,                            \
                    "%s: %zu bytes differ from %s", #seen, (size_t)(len),     \
                    #expected);                                               \
} while (0)

/* The call fails with errno `err`. Works for -1, (void *)-1, MAP_FAILED
 * and (mqd_t)-1 returns, which all convert to -1 (not for SEM_FAILED,
 * which glibc defines as NULL: compare that result yourself). */
#define ipcv_expect_fail(err, call) do {                                      \
    errno = 0;                                                                \
    intptr_t r_ = (intptr_t)(call);                                           \
    int e_ = errno;                                                           \
    if (r_ != -1)                                                             \
        ipcv_record(IPCV_FAIL, __FILE__, __LINE__,                            \
                    "%s: expected failure with %s, seen success (%jd)",       \
                    #call, ipcv_errname(err), (intmax_t)r_);                  \
    else if (e_ != (err))                                                     \
        ipcv_record(IPCV_FAIL, __FILE__, __LINE__,                            \
                    "%s: expected %s, seen %s", #call, ipcv_errname(err),     \
                    ipcv_errname(e_));                                        \
} while (0)

/* The call succeeds (does not return -1); evaluates to its result. */
#define ipcv_expect_ok(call) ({                                               \
    errno = 0;                                                                \
    intptr_t r_ = (intptr_t)(call);                                           \
    if (r_ == -1)                                                             \
        ipcv_record(IPCV_FAIL, __FILE__, __LINE__,                            \
                    "%s: expected success, seen %s", #call,                   \
                    ipcv_errname(errno));                                     \
    r_;                                                                       \
})

/* pthread_* style: the call returns 0 or an error number. */
#define ipcv_expect_rc(expected, call) do {                                   \
    int r_ = (call);                                                          \
    if (r_ != (expected))                                                     \
        ipcv_record(IPCV_FAIL, __FILE__, __LINE__, "%s: expected %s, seen %s",\
                    #call, ipcv_errname(expected), ipcv_errname(r_));         \
} while (0)

#endif
