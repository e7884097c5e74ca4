/* selfexe.h - move the running program's own image onto another open file
 * of the same binary (the detached read-only bind mount made by the runtime's
 * self-protection), without execve. */
#ifndef CAPSA_LINUX_SELFEXE_H
#define CAPSA_LINUX_SELFEXE_H

#include "util/err.h"

/* tree_fd: the root of a detached mount whose root is the running binary
 * itself (open_tree(OPEN_TREE_CLONE) of /proc/self/exe). Afterwards no
 * mapping of this process refers to the binary's original path: the read-only
 * segments are mapped again from tree_fd (same inode, so the same page-cache
 * pages and the same bytes), the writable segment is moved to anonymous memory
 * with its current contents (mremap, one atomic step) and its RELRO part made
 * read-only again; then /proc/self/exe becomes tree_fd's file
 * (PR_SET_MM_EXE_FILE, which the kernel refuses while any mapping still
 * refers to the old path). On failure the image may be partly moved (to
 * mappings of the same bytes) and the caller must fall back to re-executing
 * from tree_fd, which replaces all of it. */
int capsa_selfexe_rebind(int tree_fd, struct capsa_err *err);

#endif
