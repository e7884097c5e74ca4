/* dev.c - block and network devices. A device is a manifest entry the
 * tender attached and backed with a host fd (a file for block, a TAP for
 * net); the handle is the entry's index. Every request is checked here
 * against the manifest's geometry before it reaches the host, so a guest bug
 * fails with UK_EINVAL instead of reaching the host (where the tender's
 * seccomp filter would kill it: it pins the fd, a size of one sector and an
 * offset inside the device). */
#include "internal.h"
#include "sys.h"

static const struct capsa_mft_entry *find(const char *name, uint32_t type, uk_handle_t *handle)
{
    const struct capsa_mft *mft = uk_boot.mft;
    if (mft == NULL || name == NULL || strlen(name) > CAPSA_MFT_NAME_MAX)
        return NULL;
    for (uint32_t i = 1; i < mft->entries; i++) {
        const struct capsa_mft_entry *e = &mft->e[i];
        if (e->type == type && e->attached && strcmp(e->name, name) == 0) {
            *handle = i;
            return e;
        }
    }
    return NULL;
}

enum uk_result uk_block_acquire(const char *name, uk_handle_t *handle, struct uk_block_info *info)
{
    const struct capsa_mft_entry *e = find(name, CAPSA_MFT_DEV_BLOCK_BASIC, handle);
    if (e == NULL)
        return UK_EINVAL;
    info->capacity = e->u.block_basic.capacity;
    info->block_size = e->u.block_basic.block_size;
    return UK_OK;
}

/* offset and size whole blocks, not empty, inside the device (overflow-safe). */
static const struct capsa_mft_entry *block_check(uk_handle_t handle, uint64_t offset, size_t size)
{
    const struct capsa_mft_entry *e = uk_mft_entry(handle, CAPSA_MFT_DEV_BLOCK_BASIC);
    if (e == NULL)
        return NULL;
    uint64_t bs = e->u.block_basic.block_size, cap = e->u.block_basic.capacity;
    if (bs == 0 || size == 0 || offset % bs != 0 || size % bs != 0)
        return NULL;
    if (offset > cap || size > cap - offset)
        return NULL;
    return e;
}

/* One host call per sector, exactly one sector each: the tender's seccomp
 * filter kills any other size (Solo5's does the same). A short transfer is
 * not retried with the rest, which would be a smaller, killed, call. */
static enum uk_result block_io(long nr, uk_handle_t handle, uint64_t offset, char *p, size_t size)
{
    const struct capsa_mft_entry *e = block_check(handle, offset, size);
    if (e == NULL)
        return UK_EINVAL;
    uint64_t bs = e->u.block_basic.block_size;
    for (uint64_t done = 0; done < size; done += bs) {
        long n;
        do {
            n = uk_sys6(nr, e->b.hostfd, (long)(p + done), (long)bs, (long)(offset + done), 0, 0);
        } while (n == -UK_EINTR);
        if (n != (long)bs)
            return UK_EUNSPEC; /* also: the backing file is shorter than declared */
    }
    return UK_OK;
}

enum uk_result uk_block_read(uk_handle_t handle, uint64_t offset, void *buf, size_t size)
{
    return block_io(UK_NR_pread64, handle, offset, buf, size);
}

enum uk_result uk_block_write(uk_handle_t handle, uint64_t offset, const void *buf, size_t size)
{
    /* pwrite64 only reads the buffer: the cast drops const for the shared loop. */
    return block_io(UK_NR_pwrite64, handle, offset, (char *)(uintptr_t)buf, size);
}

enum uk_result uk_net_acquire(const char *name, uk_handle_t *handle, struct uk_net_info *info)
{
    const struct capsa_mft_entry *e = find(name, CAPSA_MFT_DEV_NET_BASIC, handle);
    if (e == NULL)
        return UK_EINVAL;
    memcpy(info->mac, e->u.net_basic.mac, sizeof(info->mac));
    info->mtu = e->u.net_basic.mtu;
    return UK_OK;
}

enum uk_result uk_net_read(uk_handle_t handle, void *buf, size_t size, size_t *read_size)
{
    const struct capsa_mft_entry *e = uk_mft_entry(handle, CAPSA_MFT_DEV_NET_BASIC);
    /* A TAP read returns one whole frame; a buffer smaller than mtu + the
     * Ethernet header could silently truncate one, so refuse it. */
    if (e == NULL || size < (size_t)e->u.net_basic.mtu + 14)
        return UK_EINVAL;
    long n;
    do {
        n = uk_sys3(UK_NR_read, e->b.hostfd, (long)buf, (long)size);
    } while (n == -UK_EINTR);
    if (n == -UK_EAGAIN)
        return UK_AGAIN; /* the tender opens TAPs non-blocking */
    if (n < 0)
        return UK_EUNSPEC;
    *read_size = (size_t)n;
    return UK_OK;
}

enum uk_result uk_net_write(uk_handle_t handle, const void *buf, size_t size)
{
    const struct capsa_mft_entry *e = uk_mft_entry(handle, CAPSA_MFT_DEV_NET_BASIC);
    if (e == NULL || size > (size_t)e->u.net_basic.mtu + 14)
        return UK_EINVAL;
    long n;
    do {
        n = uk_sys3(UK_NR_write, e->b.hostfd, (long)buf, (long)size);
    } while (n == -UK_EINTR);
    return n == (long)size ? UK_OK : UK_EUNSPEC;
}

int uk_raw_hostfd(uk_handle_t handle)
{
    const struct capsa_mft_entry *e = uk_mft_entry(handle, CAPSA_MFT_DEV_BLOCK_BASIC);
    if (e == NULL)
        e = uk_mft_entry(handle, CAPSA_MFT_DEV_NET_BASIC);
    return e == NULL ? -1 : e->b.hostfd;
}
