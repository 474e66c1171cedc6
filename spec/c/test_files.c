/*
 * test_files.c — lre_write_file, the one writer of every file the engine
 * makes (results, figures, checkpoints; their own specs check that each
 * goes through it), against what can go wrong around a file:
 *   - a new file, a replaced one, missing folders made; a 250-character
 *     name (the temporary name must fit wherever the target's does);
 *   - a write that fails part-way (the file-size limit, with SIGXFSZ at
 *     its default action: this test never masks it; the writer must) and
 *     a fill that gives up: the old file byte for byte, no temporary file,
 *     the reason in the message;
 *   - a symlink planted at PATH.tmp.<pid> (the predictable name an older
 *     writer used) pointing at a victim: the victim is untouched; a target
 *     that is itself a link: the file it points to is replaced, the link
 *     stays;
 *   - a FIFO (mkfifo) and a character device (mknod in the test's own
 *     folder, where the test may; a visible skip otherwise; the real /dev
 *     is never touched) are written in place and stay what they were; a
 *     folder and a socket are refused by name; "-" is standard output;
 *   - ENOSPC on a small tmpfs, where the test may mount one (a visible skip
 *     otherwise): the old file intact, no temporary file.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#define _DEFAULT_SOURCE /* makedev, mount */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lrengine.h"
#include "check.h"

static char g_dir[256];

static const char *tpath(const char *name)
{
    static char bufs[4][1024];
    static int k;
    char *b = bufs[k];
    k = (k + 1) % 4;
    snprintf(b, sizeof bufs[0], "%s/%s", g_dir, name);
    return b;
}

/* The whole file, NUL-terminated, in a static buffer; NULL if unreadable. */
static const char *slurp(const char *path, size_t *n)
{
    static char buf[1 << 17];
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t got = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[got] = '\0';
    if (n) *n = got;
    return buf;
}

static void put(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0) chk_fatal("put", "%s", path);
}

/* No ".lre-tmp-" file of the writer in folder dir. */
static int no_tmp_left(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return 1;
    int clean = 1;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strncmp(e->d_name, ".lre-tmp-", 9) == 0) clean = 0;
    closedir(d);
    return clean;
}

static int writes(const char *path, const char *text, char *err, size_t errn)
{
    err[0] = '\0';
    return lre_write_file(path, text, strlen(text), err, errn);
}

/* A fill that writes a little and then gives up. */
static int fill_gives_up(FILE *f, void *ud)
{
    (void)ud;
    fputs("half of a file", f);
    return -1;
}

/* A fill of n bytes of 'x'. */
static int fill_n(FILE *f, void *ud)
{
    size_t n = *(const size_t *)ud;
    for (size_t i = 0; i < n; i++)
        if (fputc('x', f) == EOF) return -1;
    return 0;
}

static void test_plain(void)
{
    char err[512];
    const char *p = tpath("a/b/c.json");
    CHECK(writes(p, "one", err, sizeof err) == 0, "a new file in missing folders", "%s", err);
    const char *got = slurp(p, NULL);
    CHECK(got && strcmp(got, "one") == 0, "the new file holds what was written", "%s",
          got ? got : "(unreadable)");
    CHECK(writes(p, "two", err, sizeof err) == 0, "an existing file is replaced", "%s", err);
    got = slurp(p, NULL);
    CHECK(got && strcmp(got, "two") == 0, "the replaced file holds the new bytes", "%s",
          got ? got : "(unreadable)");
    struct stat st;
    mode_t um = umask(0);
    umask(um);
    CHECK(stat(p, &st) == 0 && (st.st_mode & 0777) == (0666 & ~um),
          "the file's mode is 0666 less the umask (not mkstemp's 0600)", "mode %o",
          (unsigned)(st.st_mode & 0777));
    CHECK(no_tmp_left(tpath("a/b")), "no temporary file after a write", "one remains");

    /* 250 characters: a valid name (the limit is 255), whose temporary
     * name must fit too */
    char name[251];
    memset(name, 'n', 250);
    name[250] = '\0';
    memcpy(name + 245, ".json", 5);
    CHECK(writes(tpath(name), "long", err, sizeof err) == 0, "a 250-character file name",
          "%s", err);
    CHECK(no_tmp_left(g_dir), "no temporary file after the long name", "one remains");
    unlink(tpath(name));

    put(p, "old");
    CHECK(lre_write_file_with(p, fill_gives_up, NULL, err, sizeof err) != 0,
          "a fill that gives up fails the write", "it succeeded");
    got = slurp(p, NULL);
    CHECK(got && strcmp(got, "old") == 0, "a fill that gives up keeps the old file", "%s",
          got ? got : "(gone)");
    CHECK(no_tmp_left(tpath("a/b")), "a fill that gives up leaves no temporary file",
          "one remains");
    CHECK(writes("", "x", err, sizeof err) != 0 && strstr(err, "empty"),
          "an empty path is refused", "%s", err);
}

/* Past the file-size limit, in a child process with SIGXFSZ at its default
 * action (the writer must keep it from killing the process). */
static void test_file_size_limit(void)
{
    const char *p = tpath("limited.json");
    put(p, "the old contents");
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) chk_fatal("fork", "%s", strerror(errno));
    if (pid == 0) {
        signal(SIGXFSZ, SIG_DFL);
        struct rlimit lim = {4096, 4096};
        if (setrlimit(RLIMIT_FSIZE, &lim) != 0) _exit(3);
        char err[512];
        size_t n = 100000;
        int rc = lre_write_file_with(p, fill_n, &n, err, sizeof err);
        /* the message goes back through the exit status: 0 = failed with
         * EFBIG named, 1 = succeeded, 2 = failed with another message */
        if (rc == 0) _exit(1);
        _exit(strstr(err, strerror(EFBIG)) && strstr(err, "limited.json") ? 0 : 2);
    }
    int ws = 0;
    waitpid(pid, &ws, 0);
    CHECK(!WIFSIGNALED(ws), "past the file-size limit the process is not killed by SIGXFSZ",
          "killed by signal %d", WIFSIGNALED(ws) ? WTERMSIG(ws) : 0);
    CHECK(WIFEXITED(ws) && WEXITSTATUS(ws) == 0,
          "past the file-size limit the write fails naming the file and EFBIG",
          "child status %d", WIFEXITED(ws) ? WEXITSTATUS(ws) : -1);
    const char *got = slurp(p, NULL);
    CHECK(got && strcmp(got, "the old contents") == 0,
          "past the file-size limit the old file is intact", "%s", got ? got : "(gone)");
    CHECK(no_tmp_left(g_dir), "past the file-size limit no temporary file is left",
          "one remains");
}

static void test_links(void)
{
    char err[512];
    const char *victim = tpath("victim");
    put(victim, "precious");
    /* the predictable temporary name an older writer used */
    char planted[1100];
    const char *p = tpath("out.json");
    snprintf(planted, sizeof planted, "%s.tmp.%ld", p, (long)getpid());
    if (symlink(victim, planted) != 0) chk_fatal("symlink", "%s", strerror(errno));
    CHECK(writes(p, "result", err, sizeof err) == 0, "a write beside a planted link works",
          "%s", err);
    const char *got = slurp(victim, NULL);
    CHECK(got && strcmp(got, "precious") == 0,
          "a link planted at PATH.tmp.<pid> does not redirect the write", "victim now '%s'",
          got ? got : "(gone)");
    struct stat st;
    CHECK(lstat(planted, &st) == 0 && S_ISLNK(st.st_mode), "the planted link is left alone",
          "it changed");
    unlink(planted);

    /* the target is a link: the file it names is replaced, the link stays */
    const char *real = tpath("real.json"), *link = tpath("link.json");
    put(real, "old");
    if (symlink("real.json", link) != 0) chk_fatal("symlink", "%s", strerror(errno));
    CHECK(writes(link, "new", err, sizeof err) == 0, "a write through a link works", "%s",
          err);
    got = slurp(real, NULL);
    CHECK(got && strcmp(got, "new") == 0, "a write through a link replaces the file it names",
          "'%s'", got ? got : "(gone)");
    CHECK(lstat(link, &st) == 0 && S_ISLNK(st.st_mode), "the link stays a link",
          "it was replaced by a file");
}

/* waitpid, but a child still running after `secs` is killed (a reader
 * left blocked on a FIFO the writer replaced must fail the test, not hang
 * it); 1 when it ended by itself. */
static int wait_or_kill(pid_t pid, int secs, int *ws)
{
    for (int i = 0; i < secs * 100; i++) {
        if (waitpid(pid, ws, WNOHANG) == pid) return 1;
        usleep(10000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, ws, 0);
    return 0;
}

static void test_fifo(void)
{
    char err[512];
    const char *fifo = tpath("fifo"), *copy = tpath("fifo-copy");
    if (mkfifo(fifo, 0600) != 0) {
        chk_skip("a FIFO is written in place", strerror(errno));
        return;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) chk_fatal("fork", "%s", strerror(errno));
    if (pid == 0) { /* the reader: the FIFO's bytes into a file */
        FILE *in = fopen(fifo, "rb"), *out = fopen(copy, "wb");
        if (!in || !out) _exit(1);
        int c;
        while ((c = fgetc(in)) != EOF) fputc(c, out);
        _exit(fclose(out) == 0 ? 0 : 1);
    }
    int rc = writes(fifo, "through the pipe", err, sizeof err);
    int ws = 0;
    int ended = wait_or_kill(pid, 10, &ws);
    CHECK(rc == 0, "a FIFO is written", "%s", err);
    CHECK(ended, "the FIFO's reader sees the end of the bytes", "it was still waiting after 10 s");
    const char *got = slurp(copy, NULL);
    CHECK(got && strcmp(got, "through the pipe") == 0, "the FIFO's reader gets the bytes",
          "'%s'", got ? got : "(nothing)");
    struct stat st;
    CHECK(lstat(fifo, &st) == 0 && S_ISFIFO(st.st_mode), "the FIFO stays a FIFO",
          "it was replaced by a file");
    CHECK(no_tmp_left(g_dir), "no temporary file beside the FIFO", "one remains");
}

static void test_char_device(void)
{
    char err[512];
    const char *dev = tpath("null");
    if (mknod(dev, S_IFCHR | 0666, makedev(1, 3)) != 0) {
        chk_skip("a character device is written in place",
                 chk_name("mknod of a null device in the test's folder: %s", strerror(errno)));
        return;
    }
    CHECK(writes(dev, "into nothing", err, sizeof err) == 0, "a character device is written",
          "%s", err);
    struct stat st;
    CHECK(lstat(dev, &st) == 0 && S_ISCHR(st.st_mode),
          "the character device stays a device (not replaced by a file)",
          "it is now mode %o", (unsigned)st.st_mode);
    unlink(dev);
}

static void test_refused(void)
{
    char err[512];
    const char *dir = tpath("a-folder");
    mkdir(dir, 0755);
    CHECK(writes(dir, "x", err, sizeof err) != 0 && strstr(err, "a-folder") &&
              strstr(err, "folder"),
          "a folder is refused by name", "%s", err);
    struct stat st;
    CHECK(stat(dir, &st) == 0 && S_ISDIR(st.st_mode), "the folder is left as it was",
          "it changed");

    const char *sock = tpath("sock");
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un a;
    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    if (fd >= 0 && strlen(sock) < sizeof a.sun_path) {
        memcpy(a.sun_path, sock, strlen(sock) + 1);
        if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0) {
            CHECK(writes(sock, "x", err, sizeof err) != 0 && strstr(err, "socket"),
                  "a socket is refused by name", "%s", err);
            CHECK(lstat(sock, &st) == 0 && S_ISSOCK(st.st_mode), "the socket is left as it was",
                  "it changed");
        } else {
            chk_skip("a socket is refused", strerror(errno));
        }
    } else {
        chk_skip("a socket is refused", "no AF_UNIX socket here");
    }
    if (fd >= 0) close(fd);
}

static void test_stdout(void)
{
    char err[512];
    const char *cap = tpath("stdout-capture");
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    int fd = open(cap, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (saved < 0 || fd < 0 || dup2(fd, STDOUT_FILENO) < 0) chk_fatal("dup2", "%s", strerror(errno));
    close(fd);
    int rc = writes("-", "to standard output", err, sizeof err);
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    CHECK(rc == 0, "\"-\" is written", "%s", err);
    const char *got = slurp(cap, NULL);
    CHECK(got && strcmp(got, "to standard output") == 0, "\"-\" is standard output", "'%s'",
          got ? got : "(nothing)");
    struct stat st;
    CHECK(stat("-", &st) != 0, "no file named '-' is made", "there is one");
}

/* ENOSPC: a 64 KiB tmpfs, where this process may mount one. */
static void test_enospc(void)
{
    char err[512];
    const char *mnt = tpath("small");
    mkdir(mnt, 0755);
    if (mount("tmpfs", mnt, "tmpfs", 0, "size=64k") != 0) {
        chk_skip("a full disk (ENOSPC) keeps the old file",
                 chk_name("cannot mount a small tmpfs here: %s", strerror(errno)));
        return;
    }
    char p[1100];
    snprintf(p, sizeof p, "%s/full.json", mnt);
    put(p, "old");
    size_t n = 1 << 20;
    int rc = lre_write_file_with(p, fill_n, &n, err, sizeof err);
    CHECK(rc != 0 && strstr(err, strerror(ENOSPC)) && strstr(err, "full.json"),
          "a full disk fails the write naming the file and ENOSPC", "%s", err);
    const char *got = slurp(p, NULL);
    CHECK(got && strcmp(got, "old") == 0, "a full disk keeps the old file", "'%s'",
          got ? got : "(gone)");
    CHECK(no_tmp_left(mnt), "a full disk leaves no temporary file", "one remains");
    umount(mnt);
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(g_dir, sizeof g_dir, "%s/lre_files_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(g_dir)) chk_fatal("mkdtemp", "%s: %s", g_dir, strerror(errno));
    test_plain();
    test_file_size_limit();
    test_links();
    test_fifo();
    test_char_device();
    test_refused();
    test_stdout();
    test_enospc();
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0) printf("# could not remove %s\n", g_dir);
    return chk_done("test_files");
}
