#define _GNU_SOURCE
#include "cshims.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>
#include <sys/file.h>
#include <signal.h>
#if defined(__linux__)
#include <sys/prctl.h>
#endif
#if defined(__linux__)
#include <sys/syscall.h>
#include <linux/fs.h>
#endif

int pipeline_rename_exchange(const char *from, const char *to) {
#if defined(__linux__) && defined(SYS_renameat2)
    return (int)syscall(SYS_renameat2, AT_FDCWD, from, AT_FDCWD, to, RENAME_EXCHANGE);
#else
    errno = ENOSYS;
    return -1;
#endif
}

int pipeline_cpu_count(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

int pipeline_die_with_parent(int expected_parent) {
#if defined(__linux__)
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) return -1;
    return getppid() == expected_parent ? 0 : -1;
#else
    (void)expected_parent;
    return 0;
#endif
}

int pipeline_flock_exclusive(int fd, int wait) {
    int r;
    do { r = flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)); } while (r != 0 && errno == EINTR);
    return r;
}
