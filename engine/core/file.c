/*
 * file.c — the one way the engine writes a file (lrengine.h: lre_write_file):
 * missing parent folders are made, the bytes go to a new temporary file in
 * the target's folder (mkstemp: never a name another user could have
 * planted), which is flushed, synced and renamed over the target; the
 * folder is synced so the rename is durable. On any failure the temporary
 * file is removed and the target is untouched: a reader sees the old file
 * or the new one, never half of one. Results (JSON, CSV), figures and
 * trainer checkpoints all go through it.
 */
#include <errno.h>
#include <fcntl.h>
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

int lre_write_file_with(const char *path, int (*fill)(FILE *f, void *ud), void *ud, char *err,
                        size_t errn)
{
    if (!path || !*path) {
        ERR("write: the path is empty");
        return -1;
    }
    if (make_parents(path, err, errn)) return -1;
    /* the temporary file: beside the target, a short unique name */
    const char *slash = strrchr(path, '/');
    size_t dirlen = slash ? (size_t)(slash - path + 1) : 0;
    char *tmp = malloc(dirlen + 32);
    if (!tmp) {
        ERR("%s: out of memory", path);
        return -1;
    }
    snprintf(tmp, dirlen + 32, "%.*s.lre-tmp-XXXXXX", (int)dirlen, path);
    int fd = mkstemp(tmp);
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
    errno = 0;
    int ok = fill(f, ud) == 0;
    int e = errno;
    ok = fflush(f) == 0 && ok;
    if (!e) e = errno;
    ok = fsync(fileno(f)) == 0 && ok;
    if (!e) e = errno;
    ok = fclose(f) == 0 && ok;
    if (!e) e = errno;
    if (ok && rename(tmp, path) != 0) {
        ERR("cannot write %s: rename of the temporary file onto it failed: %s", path,
            strerror(errno));
        remove(tmp);
        free(tmp);
        return -1;
    }
    if (!ok) {
        ERR("cannot write %s: %s", path, strerror(e ? e : EIO));
        remove(tmp);
        free(tmp);
        return -1;
    }
    free(tmp);
    sync_parent(path);
    return 0;
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
