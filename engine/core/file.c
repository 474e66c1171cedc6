/*
 * file.c — the one way the engine writes a file (lrengine.h: lre_write_file):
 * missing parent folders are made, the bytes go to a new temporary file in
 * the target's folder (mkstemp: never a name another user could have
 * planted), which is flushed, synced and renamed over the target; the
 * folder is synced so the rename is durable. On any failure the temporary
 * file is removed and the target is untouched: a reader sees the old file
 * or the new one, never half of one. Results (JSON, CSV), figures and
 * trainer checkpoints all go through it. A FIFO or a character device
 * (/dev/null, a terminal) is written in place, never replaced by a file;
 * "-" is standard output; a folder, a socket or a block device is refused.
 */
#define _XOPEN_SOURCE 700 /* realpath */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lrengine.h"

#define ERR(...) (err && errn ? (void)snprintf(err, errn, __VA_ARGS__) : (void)0)

/* mkdir -p of the folders above path (not path itself). */
static int make_parents(const char *path, char *err, size_t errn)
{
    size_t n = strlen(path);
    char *dir = malloc(n + 1);
    if (!dir) {
        ERR("%s: out of memory", path);
        return -1;
    }
    memcpy(dir, path, n + 1);
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir) {
        free(dir);
        return 0; /* the current folder, or / */
    }
    *slash = '\0';
    for (char *p = dir + 1; ; p++) {
        int end = *p == '\0';
        if (*p == '/' || end) {
            *p = '\0';
            struct stat st;
            if (stat(dir, &st) != 0) {
                if (errno != ENOENT || (mkdir(dir, 0777) != 0 && errno != EEXIST)) {
                    ERR("cannot create the folder %s for %s: %s", dir, path, strerror(errno));
                    free(dir);
                    return -1;
                }
            } else if (!S_ISDIR(st.st_mode)) {
                ERR("cannot write %s: %s is not a folder", path, dir);
                free(dir);
                return -1;
            }
            if (end) break;
            *p = '/';
        }
    }
    free(dir);
    return 0;
}

/* fsync the folder holding path, so that the rename itself is durable
 * (best effort: not every file system allows it) */
static void sync_parent(const char *path)
{
    const char *slash = strrchr(path, '/');
    char dir[4096];
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == path) snprintf(dir, sizeof dir, "/");
    else snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

/* SIGXFSZ: a write past the file-size limit (ulimit -f) sends it, and its
 * default action kills the process, leaving the temporary file behind.
 * While the writer runs, the signal is blocked in the calling thread (the
 * write then fails with EFBIG, reported like any error) and a pending one
 * is taken before the mask is put back; the process's handlers are not
 * touched, so a library user's own disposition stays as it was. */
typedef struct xfsz_guard {
    sigset_t old;
    int on;
} xfsz_guard;

static void xfsz_block(xfsz_guard *g)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGXFSZ);
    g->on = pthread_sigmask(SIG_BLOCK, &s, &g->old) == 0;
}

static void xfsz_restore(xfsz_guard *g)
{
    if (!g->on) return;
    sigset_t s, pending;
    sigemptyset(&s);
    sigaddset(&s, SIGXFSZ);
    /* only a signal this writer raised: it was not pending before, as it
     * was not blocked before (or else the old mask keeps it blocked) */
    if (!sigismember(&g->old, SIGXFSZ) && sigpending(&pending) == 0 &&
        sigismember(&pending, SIGXFSZ)) {
        const struct timespec zero = {0, 0};
        (void)sigtimedwait(&s, NULL, &zero);
    }
    (void)pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

/* Runs fill on f, then flushes (and with `sync`, fsyncs) and closes it.
 * 0, or -1 with the first errno seen in *e (EIO when none was). */
static int fill_and_close(FILE *f, int (*fill)(FILE *f, void *ud), void *ud, int sync, int *e)
{
    errno = 0;
    int ok = fill(f, ud) == 0;
    *e = errno;
    ok = fflush(f) == 0 && ok;
    if (!*e) *e = errno;
    if (sync) {
        ok = fsync(fileno(f)) == 0 && ok;
        if (!*e) *e = errno;
    }
    ok = fclose(f) == 0 && ok;
    if (!*e) *e = errno;
    if (!*e) *e = EIO;
    return ok ? 0 : -1;
}

/* Streams fill's bytes into the open descriptor fd (a FIFO, a character
 * device, standard output): no temporary file, no rename. fd is closed. */
static int write_direct(const char *path, int fd, int (*fill)(FILE *f, void *ud), void *ud,
                        char *err, size_t errn)
{
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        ERR("cannot write %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    int e;
    if (fill_and_close(f, fill, ud, 0, &e) != 0) {
        ERR("cannot write %s: %s", path, strerror(e));
        return -1;
    }
    return 0;
}

/* What path names, when it exists and is not a regular file: a FIFO or a
 * character device is written in place (1), a folder, a socket or a block
 * device refused (-1, the message in err); otherwise 0 (the atomic path). */
static int special_target(const char *path, char *err, size_t errn)
{
    struct stat st;
    if (stat(path, &st) != 0 || S_ISREG(st.st_mode)) return 0;
    if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode)) return 1;
    ERR("cannot write %s: it is %s", path,
        S_ISDIR(st.st_mode)    ? "a folder"
        : S_ISSOCK(st.st_mode) ? "a socket"
        : S_ISBLK(st.st_mode)  ? "a block device (lrengine writes no devices but FIFOs and "
                                 "character devices)"
                               : "not a regular file");
    return -1;
}

static int write_atomic(const char *path, int (*fill)(FILE *f, void *ud), void *ud, char *err,
                        size_t errn)
{
    if (make_parents(path, err, errn)) return -1;
    /* the temporary file: beside the target, a short unique name (it fits
     * wherever the target's name fits: 15 characters) */
    const char *slash = strrchr(path, '/');
    size_t dirlen = slash ? (size_t)(slash - path + 1) : 0;
    char *tmp = malloc(dirlen + 32);
    if (!tmp) {
        ERR("%s: out of memory", path);
        return -1;
    }
    snprintf(tmp, dirlen + 32, "%.*s.lre-tmp-XXXXXX", (int)dirlen, path);
    int fd = mkstemp(tmp); /* O_CREAT | O_EXCL: never a planted name or link */
    if (fd < 0) {
        ERR("cannot write %s: %s", path, strerror(errno));
        free(tmp);
        return -1;
    }
    /* mkstemp makes it 0600; a result is an ordinary file: 0666 & ~umask */
    mode_t um = umask(0);
    umask(um);
    (void)fchmod(fd, 0666 & ~um);
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        ERR("cannot write %s: %s", path, strerror(errno));
        close(fd);
        remove(tmp);
        free(tmp);
        return -1;
    }
    int e;
    int ok = fill_and_close(f, fill, ud, 1, &e) == 0;
    if (ok && rename(tmp, path) != 0) {
        ERR("cannot write %s: rename of the temporary file onto it failed: %s", path,
            strerror(errno));
        remove(tmp);
        free(tmp);
        return -1;
    }
    if (!ok) {
        ERR("cannot write %s: %s", path, strerror(e));
        remove(tmp);
        free(tmp);
        return -1;
    }
    free(tmp);
    sync_parent(path);
    return 0;
}

int lre_write_file_with(const char *path, int (*fill)(FILE *f, void *ud), void *ud, char *err,
                        size_t errn)
{
    if (!path || !*path) {
        ERR("write: the path is empty");
        return -1;
    }
    xfsz_guard g;
    xfsz_block(&g);
    int rc;
    if (strcmp(path, "-") == 0) { /* standard output, after what stdio holds */
        fflush(stdout);
        int fd = dup(STDOUT_FILENO);
        if (fd < 0) {
            ERR("cannot write to standard output: %s", strerror(errno));
            rc = -1;
        } else {
            rc = write_direct("standard output", fd, fill, ud, err, errn);
        }
    } else {
        /* a link is followed: its target is what gets replaced, the link
         * stays (a dangling one is replaced by the file) */
        char *real = NULL;
        struct stat lst;
        if (lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode)) real = realpath(path, NULL);
        const char *target = real ? real : path;
        int kind = special_target(target, err, errn);
        if (kind < 0) {
            rc = -1;
        } else if (kind > 0) {
            int fd = open(target, O_WRONLY | O_NOCTTY | O_CLOEXEC);
            if (fd < 0) {
                ERR("cannot write %s: %s", path, strerror(errno));
                rc = -1;
            } else {
                rc = write_direct(path, fd, fill, ud, err, errn);
            }
        } else {
            rc = write_atomic(target, fill, ud, err, errn);
        }
        free(real);
    }
    xfsz_restore(&g);
    return rc;
}

typedef struct bytes {
    const void *data;
    size_t n;
} bytes;

static int fill_bytes(FILE *f, void *ud)
{
    const bytes *b = ud;
    return b->n && fwrite(b->data, 1, b->n, f) != b->n ? -1 : 0;
}

int lre_write_file(const char *path, const void *data, size_t n, char *err, size_t errn)
{
    bytes b = {data, n};
    return lre_write_file_with(path, fill_bytes, &b, err, errn);
}
