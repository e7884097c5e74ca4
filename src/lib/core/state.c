/* state.c - per-container state directory, atomic state file, locking and
 * the live status check (robust against pid reuse through the start time). */
#include "core/state.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/json.h"
#include "util/util.h"

const char *capsa_status_name(enum capsa_status s)
{
    switch (s) {
    case CAPSA_STATUS_CREATING:
        return "creating";
    case CAPSA_STATUS_CREATED:
        return "created";
    case CAPSA_STATUS_RUNNING:
        return "running";
    case CAPSA_STATUS_PAUSED:
        return "paused";
    case CAPSA_STATUS_STOPPED:
        return "stopped";
    }
    return "unknown";
}

static int mkdir_p(const char *path, mode_t mode, struct capsa_err *err)
{
    cleanup_free char *copy = strdup(path);
    if (copy == NULL)
        return capsa_err_set(err, ENOMEM, "mkdir %s", path);
    for (char *p = copy + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(copy, 0755) < 0 && errno != EEXIST)
            return capsa_err_set(err, errno, "mkdir %s", copy);
        *p = '/';
    }
    if (mkdir(copy, mode) < 0 && errno != EEXIST)
        return capsa_err_set(err, errno, "mkdir %s", copy);
    return 0;
}

int capsa_state_root_open(const char *root, int *fd_out, struct capsa_err *err)
{
    if (root == NULL || root[0] != '/')
        return capsa_err_setx(err, EINVAL, "--root %s: must be an absolute path",
                              root ? root : "(null)");
    int fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        int r = mkdir_p(root, 0700, err);
        if (r < 0)
            return r;
        fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    }
    if (fd < 0)
        return capsa_err_set(err, errno, "open state root %s", root);
    /* Somebody else's directory (a /tmp/capsa-UID planted by another user)
     * must not hold our state and locks. */
    struct stat sb;
    if (fstat(fd, &sb) < 0) {
        int e = errno;
        close(fd);
        return capsa_err_set(err, e, "stat state root %s", root);
    }
    if (sb.st_uid != geteuid() && sb.st_uid != 0) {
        close(fd);
        return capsa_err_setx(err, EPERM, "state root %s: owned by uid %u, not by us", root,
                              (unsigned int)sb.st_uid);
    }
    *fd_out = fd;
    return 0;
}

static int lock_dir(int dirfd, const char *id, struct capsa_err *err)
{
    while (flock(dirfd, LOCK_EX) < 0) {
        if (errno != EINTR)
            return capsa_err_set(err, errno, "lock container %s", id);
    }
    /* The directory may have been removed by a delete we were waiting for. */
    struct stat st;
    if (fstat(dirfd, &st) < 0)
        return capsa_err_set(err, errno, "stat container %s", id);
    if (st.st_nlink == 0)
        return capsa_err_setx(err, ENOENT, "container %s does not exist", id);
    return 0;
}

int capsa_state_dir_create(int rootfd, const char *id, int *dirfd_out, struct capsa_err *err)
{
    if (mkdirat(rootfd, id, 0711) < 0) {
        if (errno == EEXIST)
            return capsa_err_setx(err, EEXIST, "container with id %s already exists", id);
        return capsa_err_set(err, errno, "create state directory for %s", id);
    }
    /* From here on the directory is ours: on failure it goes again, or the
     * next create of this id would find it and fail with EEXIST. */
    cleanup_close int fd = openat(rootfd, id, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        int r = capsa_err_set(err, errno, "open state directory for %s", id);
        /* Still empty: only another runtime could have put anything there,
         * and rmdir of a non-empty directory fails. */
        unlinkat(rootfd, id, AT_REMOVEDIR);
        return r;
    }
    /* Nobody else can hold the lock of a directory we just made except a
     * concurrent delete/state that opened it after our mkdir: we still wait. */
    int r = lock_dir(fd, id, err);
    if (r < 0) {
        /* Remove it unless a concurrent delete already did (ENOENT), and
         * only if the name still is our directory (a new create may have
         * made another one since). */
        struct stat ours, now;
        if (r != -ENOENT && fstat(fd, &ours) == 0 &&
            fstatat(rootfd, id, &now, AT_SYMLINK_NOFOLLOW) == 0 && ours.st_ino == now.st_ino &&
            ours.st_dev == now.st_dev)
            unlinkat(rootfd, id, AT_REMOVEDIR);
        return r;
    }
    *dirfd_out = steal_fd(fd);
    return 0;
}

int capsa_state_dir_open(int rootfd, const char *id, int *dirfd_out, struct capsa_err *err)
{
    cleanup_close int fd = openat(rootfd, id, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno == ENOENT)
            return capsa_err_setx(err, ENOENT, "container %s does not exist", id);
        return capsa_err_set(err, errno, "open state of container %s", id);
    }
    int r = lock_dir(fd, id, err);
    if (r < 0)
        return r;
    *dirfd_out = steal_fd(fd);
    return 0;
}

int capsa_state_dir_remove(int rootfd, int dirfd, const char *id, struct capsa_err *err)
{
    cleanup_close int dup = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dup < 0)
        return capsa_err_set(err, errno, "open state of container %s", id);
    DIR *d = fdopendir(dup);
    if (d == NULL)
        return capsa_err_set(err, errno, "read state of container %s", id);
    (void)steal_fd(dup); /* d owns the fd now */
    cleanup_dir DIR *dir = d;
    struct dirent *de;
    while ((de = readdir(dir)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if (unlinkat(dirfd, de->d_name, 0) < 0 && errno != ENOENT)
            return capsa_err_set(err, errno, "remove state file %s/%s", id, de->d_name);
    }
    if (unlinkat(rootfd, id, AT_REMOVEDIR) < 0 && errno != ENOENT)
        return capsa_err_set(err, errno, "remove state directory of %s", id);
    return 0;
}

int capsa_write_atomic(int dirfd, const char *name, const char *data, size_t len, mode_t mode,
                       struct capsa_err *err)
{
    char tmp[300];
    int n = snprintf(tmp, sizeof tmp, ".%s.tmp", name);
    if (n < 0 || (size_t)n >= sizeof tmp)
        return capsa_err_setx(err, ENAMETOOLONG, "file name %s too long", name);
    cleanup_close int fd =
        openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
    if (fd < 0)
        return capsa_err_set(err, errno, "create %s", tmp);
    int r = capsa_write_all(fd, data, len);
    if (r < 0) {
        unlinkat(dirfd, tmp, 0);
        return capsa_err_set(err, -r, "write %s", tmp);
    }
    if (renameat(dirfd, tmp, dirfd, name) < 0) {
        int e = errno;
        unlinkat(dirfd, tmp, 0);
        return capsa_err_set(err, e, "rename %s to %s", tmp, name);
    }
    return 0;
}

/* Days since 1970-01-01 -> civil date (proleptic Gregorian), done here
 * because glibc's gmtime_r loads the time zone database first, which a UTC
 * timestamp does not need. */
static void civil_from_days(long long z, long long *y, unsigned *m, unsigned *d)
{
    z += 719468;
    long long era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (long long)yoe + era * 400 + (*m <= 2);
}

int capsa_timestamp_now(char **out, struct capsa_err *err)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long long secs = (long long)ts.tv_sec;
    long long days = secs / 86400, rem = secs % 86400;
    if (rem < 0) {
        rem += 86400;
        days--;
    }
    long long y;
    unsigned mo, d;
    civil_from_days(days, &y, &mo, &d);
    return capsa_asprintf(out, err, "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%09ldZ", y, mo, d,
                          rem / 3600, rem / 60 % 60, rem % 60, ts.tv_nsec);
}

void capsa_state_fill_owner(int dirfd, struct capsa_state *st)
{
    if (st->owner && st->owner[0])
        return;
    struct stat sb;
    if (fstat(dirfd, &sb) < 0)
        return;
    char *name = NULL;
    /* The host's database as a file: no NSS modules in a static binary. */
    FILE *f = fopen("/etc/passwd", "re");
    if (f) {
        char *line = NULL;
        size_t cap = 0;
        while (name == NULL && getline(&line, &cap, f) > 0) {
            char *c1 = strchr(line, ':');
            char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
            if (c2 == NULL)
                continue;
            char *end = NULL;
            errno = 0;
            unsigned long uid = strtoul(c2 + 1, &end, 10);
            if (errno == 0 && end != c2 + 1 && *end == ':' && uid == sb.st_uid)
                name = strndup(line, (size_t)(c1 - line));
        }
        free(line);
        (void)fclose(f);
    }
    if (name == NULL && asprintf(&name, "%u", (unsigned int)sb.st_uid) < 0)
        name = NULL;
    if (name) {
        free(st->owner);
        st->owner = name;
    }
}

static json_t *annotations_json(const struct capsa_kv *kv, size_t n)
{
    json_t *o = json_object();
    for (size_t i = 0; o && i < n; i++)
        json_object_set_new(o, kv[i].key, json_string(kv[i].value));
    return o;
}

static int dump(json_t *o, size_t flags, char **out, struct capsa_err *err)
{
    char *s = json_dumps(o, flags);
    json_decref(o);
    if (s == NULL)
        return capsa_err_set(err, ENOMEM, "encode state");
    *out = s;
    return 0;
}

int capsa_state_to_json(const struct capsa_state *st, enum capsa_status status, bool full,
                        char **out, struct capsa_err *err)
{
    json_t *o = json_object();
    if (o == NULL)
        return capsa_err_set(err, ENOMEM, "encode state");
    json_object_set_new(o, "ociVersion", json_string(st->oci_version ? st->oci_version : "1.2.0"));
    json_object_set_new(o, "id", json_string(st->id));
    json_object_set_new(o, "status", json_string(capsa_status_name(status)));
    /* The spec wants pid only while the process exists. */
    if (status != CAPSA_STATUS_STOPPED && st->pid > 0)
        json_object_set_new(o, "pid", json_integer(st->pid));
    else if (full)
        json_object_set_new(o, "pid", json_integer(0));
    json_object_set_new(o, "bundle", json_string(st->bundle ? st->bundle : ""));
    if (full) {
        json_object_set_new(o, "rootfs", json_string(st->rootfs ? st->rootfs : ""));
        json_object_set_new(o, "created", json_string(st->created ? st->created : ""));
        json_object_set_new(o, "owner", json_string(st->owner ? st->owner : ""));
    }
    json_object_set_new(o, "annotations", annotations_json(st->annotations, st->n_annotations));
    return dump(o, full ? JSON_INDENT(2) : JSON_COMPACT, out, err);
}

int capsa_state_write(int dirfd, const struct capsa_state *st, struct capsa_err *err)
{
    json_t *o = json_object();
    if (o == NULL)
        return capsa_err_set(err, ENOMEM, "encode state");
    json_object_set_new(o, "ociVersion", json_string(st->oci_version ? st->oci_version : "1.2.0"));
    json_object_set_new(o, "id", json_string(st->id));
    json_object_set_new(o, "pid", json_integer(st->pid));
    json_object_set_new(o, "start", json_integer((json_int_t)st->start));
    json_object_set_new(o, "bundle", json_string(st->bundle ? st->bundle : ""));
    json_object_set_new(o, "rootfs", json_string(st->rootfs ? st->rootfs : ""));
    json_object_set_new(o, "created", json_string(st->created ? st->created : ""));
    json_object_set_new(o, "owner", json_string(st->owner ? st->owner : ""));
    json_object_set_new(o, "status", json_string(capsa_status_name(st->saved)));
    json_object_set_new(o, "newPidns", json_boolean(st->new_pidns));
    json_object_set_new(o, "sharedMntns", json_boolean(st->shared_mntns));
    if (st->cgroup)
        json_object_set_new(o, "cgroup", json_string(st->cgroup));
    if (st->systemd_unit)
        json_object_set_new(o, "systemdUnit", json_string(st->systemd_unit));
    if (st->level)
        json_object_set_new(o, "isolation", json_string(st->level));
    if (st->helper_pid > 0) {
        json_object_set_new(o, "helperPid", json_integer(st->helper_pid));
        json_object_set_new(o, "helperStart", json_integer((json_int_t)st->helper_start));
    }
    if (st->hooks_known) {
        json_t *h = json_object();
        json_object_set_new(h, "poststart", json_boolean(st->has_poststart));
        json_object_set_new(h, "poststop", json_boolean(st->has_poststop));
        json_object_set_new(o, "hooks", h);
    }
    json_object_set_new(o, "annotations", annotations_json(st->annotations, st->n_annotations));
    cleanup_free char *s = NULL;
    int r = dump(o, JSON_COMPACT, &s, err);
    if (r < 0)
        return r;
    return capsa_write_atomic(dirfd, CAPSA_STATE_FILE, s, strlen(s), 0600, err);
}

void capsa_state_clear(struct capsa_state *st)
{
    free(st->id);
    free(st->oci_version);
    free(st->bundle);
    free(st->rootfs);
    free(st->created);
    free(st->owner);
    free(st->cgroup);
    free(st->systemd_unit);
    free(st->level);
    for (size_t i = 0; i < st->n_annotations; i++) {
        free(st->annotations[i].key);
        free(st->annotations[i].value);
    }
    free(st->annotations);
    memset(st, 0, sizeof *st);
}

static int get_str(const struct capsa_jv *o, const char *key, char **out, struct capsa_err *err)
{
    const struct capsa_jv *v = capsa_jv_get(o, key);
    if (v == NULL || v->type == CAPSA_J_NULL) {
        *out = NULL;
        return 0;
    }
    if (v->type != CAPSA_J_STRING || strlen(v->u.s) != v->n)
        return capsa_err_setx(err, EINVAL, "state.json: %s: must be a string without NUL", key);
    return capsa_strdup(v->u.s, out, err);
}

int capsa_state_read(int dirfd, struct capsa_state *st, struct capsa_err *err)
{
    memset(st, 0, sizeof *st);
    cleanup_free char *buf = NULL;
    size_t len = 0;
    int r = capsa_read_file_at(dirfd, CAPSA_STATE_FILE, 1 << 20, &buf, &len, err);
    if (r < 0)
        return r;
    return capsa_state_parse(buf, len, st, err);
}

int capsa_state_parse(const char *buf, size_t len, struct capsa_state *st, struct capsa_err *err)
{
    memset(st, 0, sizeof *st);
    int r;
    struct capsa_jdoc doc;
    struct capsa_jerror jerr;
    r = capsa_json_parse(buf, len, 0, &doc, &jerr);
    if (r == -ENOMEM)
        return capsa_err_set(err, ENOMEM, "state.json");
    if (r < 0)
        return capsa_err_setx(err, EINVAL, "state.json:%d:%d: %s", jerr.line, jerr.column,
                              jerr.text);
    const struct capsa_jv *o = &doc.root;
    if (o->type != CAPSA_J_OBJECT) {
        capsa_json_free(&doc);
        return capsa_err_setx(err, EINVAL, "state.json: not an object");
    }
    const struct capsa_jv *pid = capsa_jv_get(o, "pid");
    const struct capsa_jv *start = capsa_jv_get(o, "start");
    const struct capsa_jv *status = capsa_jv_get(o, "status");
    const struct capsa_jv *ann = capsa_jv_get(o, "annotations");
    r = 0;
    if (!capsa_jv_is(pid, CAPSA_J_INT) || pid->u.i < 0 || pid->u.i > 0x3fffffff ||
        !capsa_jv_is(start, CAPSA_J_INT) || start->u.i < 0 || !capsa_jv_is(status, CAPSA_J_STRING))
        r = capsa_err_setx(err, EINVAL, "state.json: pid, start or status missing or invalid");
    if (r == 0)
        r = get_str(o, "id", &st->id, err);
    if (r == 0)
        r = get_str(o, "ociVersion", &st->oci_version, err);
    if (r == 0)
        r = get_str(o, "bundle", &st->bundle, err);
    if (r == 0)
        r = get_str(o, "rootfs", &st->rootfs, err);
    if (r == 0)
        r = get_str(o, "created", &st->created, err);
    if (r == 0)
        r = get_str(o, "owner", &st->owner, err);
    if (r == 0)
        r = get_str(o, "cgroup", &st->cgroup, err);
    if (r == 0)
        r = get_str(o, "systemdUnit", &st->systemd_unit, err);
    if (r == 0)
        r = get_str(o, "isolation", &st->level, err);
    const struct capsa_jv *hpid = capsa_jv_get(o, "helperPid");
    const struct capsa_jv *hstart = capsa_jv_get(o, "helperStart");
    if (r == 0 && hpid != NULL) {
        if (!capsa_jv_is(hpid, CAPSA_J_INT) || hpid->u.i <= 0 || hpid->u.i > 0x3fffffff ||
            !capsa_jv_is(hstart, CAPSA_J_INT) || hstart->u.i < 0)
            r = capsa_err_setx(err, EINVAL, "state.json: helperPid or helperStart invalid");
        else {
            st->helper_pid = (pid_t)hpid->u.i;
            st->helper_start = (unsigned long long)hstart->u.i;
        }
    }
    if (r == 0) {
        st->pid = (pid_t)pid->u.i;
        st->start = (unsigned long long)start->u.i;
        st->new_pidns = capsa_jv_is(capsa_jv_get(o, "newPidns"), CAPSA_J_TRUE);
        st->shared_mntns = capsa_jv_is(capsa_jv_get(o, "sharedMntns"), CAPSA_J_TRUE);
        const struct capsa_jv *hooks = capsa_jv_get(o, "hooks");
        st->hooks_known = capsa_jv_is(hooks, CAPSA_J_OBJECT);
        st->has_poststart =
            !st->hooks_known || capsa_jv_is(capsa_jv_get(hooks, "poststart"), CAPSA_J_TRUE);
        st->has_poststop =
            !st->hooks_known || capsa_jv_is(capsa_jv_get(hooks, "poststop"), CAPSA_J_TRUE);
        const char *s = status->u.s;
        if (strcmp(s, "creating") == 0)
            st->saved = CAPSA_STATUS_CREATING;
        else if (strcmp(s, "created") == 0)
            st->saved = CAPSA_STATUS_CREATED;
        else if (strcmp(s, "paused") == 0)
            st->saved = CAPSA_STATUS_PAUSED;
        else
            st->saved = CAPSA_STATUS_RUNNING;
    }
    if (r == 0 && capsa_jv_is(ann, CAPSA_J_OBJECT) && ann->n > 0) {
        st->annotations = calloc(ann->n, sizeof *st->annotations);
        if (st->annotations == NULL)
            r = capsa_err_set(err, ENOMEM, "state.json");
        for (uint32_t i = 0; r == 0 && i < ann->n; i++) {
            const struct capsa_jmember *m = &ann->u.members[i];
            /* Values with a NUL byte could not have been written by us. */
            if (m->v.type != CAPSA_J_STRING || strlen(m->v.u.s) != m->v.n)
                continue;
            struct capsa_kv *kv = &st->annotations[st->n_annotations];
            kv->key = strdup(m->key);
            kv->value = strdup(m->v.u.s);
            st->n_annotations++;
            if (kv->key == NULL || kv->value == NULL)
                r = capsa_err_set(err, ENOMEM, "state.json");
        }
    }
    capsa_json_free(&doc);
    if (r == 0 && st->id == NULL)
        r = capsa_err_setx(err, EINVAL, "state.json: id missing");
    if (r < 0)
        capsa_state_clear(st);
    return r;
}

enum capsa_status capsa_state_status(int dirfd, const struct capsa_state *st)
{
    if (st->pid <= 0)
        return st->saved == CAPSA_STATUS_CREATING ? CAPSA_STATUS_CREATING : CAPSA_STATUS_STOPPED;
    unsigned long long start = 0;
    bool dead = false;
    if (capsa_proc_start_time(st->pid, &start, &dead) < 0 || dead || start != st->start)
        return CAPSA_STATUS_STOPPED;
    if (st->saved == CAPSA_STATUS_CREATING || st->saved == CAPSA_STATUS_PAUSED)
        return st->saved;
    /* The exec fifo exists from create until start consumed it. */
    if (faccessat(dirfd, CAPSA_FIFO_FILE, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
        return CAPSA_STATUS_CREATED;
    return CAPSA_STATUS_RUNNING;
}

/* --pid-file: the pid as text, written atomically beside the target (a
 * reader never sees a half-written file). */
int capsa_write_pid_file(const char *path, pid_t pid, struct capsa_err *err)
{
    cleanup_free char *copy = strdup(path);
    cleanup_free char *copy2 = strdup(path);
    if (copy == NULL || copy2 == NULL)
        return capsa_err_set(err, ENOMEM, "--pid-file");
    char *slash = strrchr(copy, '/');
    const char *dir = ".";
    const char *name = copy2;
    if (slash) {
        *slash = '\0';
        dir = slash == copy ? "/" : copy;
        name = copy2 + (slash - copy) + 1;
    }
    cleanup_close int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    /* cppcheck does not model cleanup_free: copy is freed on every return. */
    if (dfd < 0) {
        // cppcheck-suppress memleak ; copy is cleanup_free
        return capsa_err_set(err, errno, "--pid-file %s", path);
    }
    char buf[32];
    int n = snprintf(buf, sizeof buf, "%d", (int)pid);
    int r = capsa_write_atomic(dfd, name, buf, (size_t)n, 0644, err);
    if (r < 0) {
        // cppcheck-suppress memleak ; copy is cleanup_free
        return capsa_err_wrap(err, "--pid-file");
    }
    // cppcheck-suppress memleak ; copy is cleanup_free
    return 0;
}
