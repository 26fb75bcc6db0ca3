#ifndef PIPELINE_CSHIMS_H
#define PIPELINE_CSHIMS_H
#include <stddef.h>

/// Atomically exchange two paths (Linux renameat2 with RENAME_EXCHANGE).
/// Returns 0 on success, -1 with errno set otherwise (ENOSYS/EINVAL when unsupported).
int pipeline_rename_exchange(const char *from, const char *to);

/// Number of online processors.
int pipeline_cpu_count(void);
#endif
