#ifndef PIPELINE_CSHIMS_H
#define PIPELINE_CSHIMS_H
#include <stddef.h>

/// Atomically exchange two paths (Linux renameat2 with RENAME_EXCHANGE).
/// Returns 0 on success, -1 with errno set otherwise (ENOSYS/EINVAL when unsupported).
int pipeline_rename_exchange(const char *from, const char *to);

/// Number of online processors.
int pipeline_cpu_count(void);
/// Asks the kernel to SIGKILL this process when its parent dies (Linux prctl PR_SET_PDEATHSIG), then checks
/// the parent is still `expected_parent`. Returns 0, or -1 when the parent is already gone (or unsupported).
int pipeline_die_with_parent(int expected_parent);

/// Takes an exclusive flock on `fd`; `wait` != 0 blocks. Returns 0, or -1 with errno (EWOULDBLOCK: held).
int pipeline_flock_exclusive(int fd, int wait);
#endif
