/*
 * crashfs: a pass-through FUSE file system that loses power on command.
 *
 * Every operation goes through to a real backing directory. Beside it, crashfs keeps what a
 * power cut would leave: per file (inode), an undo record of every write, truncation and
 * allocation not yet covered by fsync/fdatasync; per directory, the entries as of its last
 * fsync. "Crash" freezes that picture: every later operation fails with EIO, as on a machine
 * that lost power. At unmount after a crash, the backing directory is rebuilt from it: each
 * directory holds its entries as of its last fsync, each file its contents as of its last
 * fsync, with --tear the newest unsynced write survives only as a prefix, and with --reorder
 * each page of unsynced writes may survive on its own.
 * See README.md for the model and its limits, and how tests drive it.
 */
#define FUSE_USE_VERSION 35
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <fuse.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

/* ---- options and global state (all guarded by `lock`) ---- */

static char backing[PATH_MAX];
static char graves[PATH_MAX];
static long long crash_after = -1; /* crash when this many counted operations have run */
static long fsync_delay_ms = 0;
static int tear = 0;
static int reorder = 0;
static unsigned long long tear_seed = 1; /* the rebuild's random choices: --tear, --reorder */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static long long ops = 0;
static int crashed = 0;
static unsigned long long seq = 0;

static void say(const char *fmt, ...) {
  va_list ap;
  pthread_mutex_lock(&out_lock);
  va_start(ap, fmt);
  vfprintf(stdout, fmt, ap);
  va_end(ap);
  fflush(stdout);
  pthread_mutex_unlock(&out_lock);
}

/* ---- the undo records of unsynced file changes ---- */

enum change { WRITE, RESIZE };

struct undo {
  unsigned long long seq;
  enum change kind;
  off_t off;        /* WRITE: where it wrote; RESIZE: the new size */
  size_t len;       /* WRITE: how much */
  off_t old_size;   /* the size before */
  char *old;        /* bytes overwritten (WRITE) or cut off (RESIZE); NULL when all zero */
  size_t old_len;
};

struct file_state {
  ino_t ino;
  struct undo *undos;
  size_t count, cap;
};

static struct file_state *files;
static size_t file_count, file_cap;

static struct file_state *file_of(ino_t ino) {
  for (size_t i = 0; i < file_count; i++)
    if (files[i].ino == ino) return &files[i];
  if (file_count == file_cap) {
    file_cap = file_cap ? file_cap * 2 : 64;
    files = realloc(files, file_cap * sizeof *files);
  }
  files[file_count] = (struct file_state){.ino = ino};
  return &files[file_count++];
}

static int all_zero(const char *p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i]) return 0;
  return 1;
}

/* Saves [from, to) of fd (clipped to `size`) for undo; NULL when it is all zero. */
static char *save_range(int fd, off_t from, off_t to, off_t size, size_t *saved) {
  if (to > size) to = size;
  *saved = from < to ? (size_t)(to - from) : 0;
  if (*saved == 0) return NULL;
  char *buf = malloc(*saved);
  if (pread(fd, buf, *saved, from) != (ssize_t)*saved || all_zero(buf, *saved)) {
    free(buf);
    return NULL;
  }
  return buf;
}

static void remember(int fd, enum change kind, off_t off, size_t len) {
  struct stat st;
  if (fstat(fd, &st) != 0) return;
  struct file_state *f = file_of(st.st_ino);
  if (f->count == f->cap) {
    f->cap = f->cap ? f->cap * 2 : 16;
    f->undos = realloc(f->undos, f->cap * sizeof *f->undos);
  }
  struct undo *u = &f->undos[f->count++];
  *u = (struct undo){.seq = ++seq, .kind = kind, .off = off, .len = len, .old_size = st.st_size};
  if (kind == WRITE)
    u->old = save_range(fd, off, off + (off_t)len, st.st_size, &u->old_len);
  else
    u->old = save_range(fd, off, st.st_size, st.st_size, &u->old_len);
}

/* fsync/fdatasync: what was written up to `mark` is durable now. */
static size_t forget_until(ino_t ino, unsigned long long mark) {
  struct file_state *f = file_of(ino);
  size_t kept = 0, forgotten = 0;
  for (size_t i = 0; i < f->count; i++) {
    if (f->undos[i].seq <= mark) {
      free(f->undos[i].old);
      forgotten++;
    } else {
      f->undos[kept++] = f->undos[i];
    }
  }
  f->count = kept;
  return forgotten;
}

/* ---- the directory entries as of each directory's last fsync ---- */

struct entry {
  char *name;
  ino_t ino;
  int is_dir;
};

struct dir_state {
  ino_t ino;
  struct entry *entries;
  size_t count;
};

static struct dir_state *dirs;
static size_t dir_count, dir_cap;

static struct dir_state *dir_of(ino_t ino, int create) {
  for (size_t i = 0; i < dir_count; i++)
    if (dirs[i].ino == ino) return &dirs[i];
  if (!create) return NULL;
  if (dir_count == dir_cap) {
    dir_cap = dir_cap ? dir_cap * 2 : 64;
    dirs = realloc(dirs, dir_cap * sizeof *dirs);
  }
  dirs[dir_count] = (struct dir_state){.ino = ino};
  return &dirs[dir_count++];
}

/* Reads the entries of the real directory `path` (regular files and directories). */
static int list_dir(const char *path, struct entry **out, size_t *count) {
  DIR *d = opendir(path);
  if (!d) return -errno;
  size_t cap = 16;
  *out = malloc(cap * sizeof **out);
  *count = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    struct stat st;
    if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) continue;
    if (*count == cap) *out = realloc(*out, (cap *= 2) * sizeof **out);
    (*out)[(*count)++] = (struct entry){strdup(e->d_name), st.st_ino, S_ISDIR(st.st_mode)};
  }
  closedir(d);
  return 0;
}

static void free_entries(struct entry *entries, size_t count) {
  for (size_t i = 0; i < count; i++) free(entries[i].name);
  free(entries);
}

/* fsync of a directory: its entries as they are now are what a power cut leaves. */
static int snapshot_dir(const char *path) {
  struct stat st;
  if (stat(path, &st) != 0) return -errno;
  struct entry *entries;
  size_t count;
  int r = list_dir(path, &entries, &count);
  if (r) return r;
  struct dir_state *d = dir_of(st.st_ino, 1);
  free_entries(d->entries, d->count);
  d->entries = entries;
  d->count = count;
  return 0;
}

/* At mount, everything already there is durable (the disk as it was when power returned). */
static void snapshot_tree(const char *path) {
  if (snapshot_dir(path)) return;
  struct stat st;
  lstat(path, &st);
  struct dir_state *d = dir_of(st.st_ino, 0);
  for (size_t i = 0; i < d->count; i++) {
    if (!d->entries[i].is_dir) continue;
    char child[PATH_MAX];
    snprintf(child, sizeof child, "%s/%s", path, d->entries[i].name);
    snapshot_tree(child);
    d = dir_of(st.st_ino, 0); /* the table may have moved */
  }
}

/* ---- keeping files alive that only a durable entry still names ---- */

/* Before the last name of a file goes, a hard link in `graves` keeps its inode for the rebuild. */
static void bury(const char *path) {
  struct stat st;
  if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode)) return;
  char grave[PATH_MAX];
  snprintf(grave, sizeof grave, "%s/%lu", graves, (unsigned long)st.st_ino);
  if (link(path, grave) != 0 && errno != EEXIST) say("warning: cannot keep %s: %s\n", path, strerror(errno));
}

/* ---- operations ---- */

static void real(char *out, const char *path) { snprintf(out, PATH_MAX, "%s%s", backing, path); }

/* A directory's real path: with nullpath_ok, FUSE names an open directory only by handle. */
static void real_dir(char *out, const char *path, struct fuse_file_info *fi) {
  if (path) real(out, path);
  else snprintf(out, PATH_MAX, "/proc/self/fd/%d", (int)fi->fh);
}

/* The file an operation is on, as the mount shows it: its FUSE path, or its handle's target. */
static void name_of(char *out, const char *path, int fd) {
  if (path) {
    snprintf(out, PATH_MAX, "%s", path);
    return;
  }
  char link[64], target[PATH_MAX];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = fd >= 0 ? readlink(link, target, sizeof target - 1) : -1;
  target[n > 0 ? n : 0] = 0;
  size_t skip = strncmp(target, backing, strlen(backing)) ? 0 : strlen(backing);
  snprintf(out, PATH_MAX, "%s", n <= 0 ? "?" : target[skip] ? target + skip : "/");
}

static void crash_now(const char *op, const char *path, int fd) {
  char name[PATH_MAX];
  name_of(name, path, fd);
  crashed = 1;
  say("crashed %lld %s %s\n", ops, op, name);
}

/* Every operation that changes the disk passes here first: the power cut happens here. */
static int count_op(const char *op, const char *path, int fd) {
  if (crashed) return -EIO;
  if (crash_after >= 0 && ops >= crash_after) {
    crash_now(op, path, fd);
    return -EIO;
  }
  ops++;
  return 0;
}

#define ENTER()                   \
  pthread_mutex_lock(&lock);      \
  if (crashed) {                  \
    pthread_mutex_unlock(&lock);  \
    return -EIO;                  \
  }
#define ENTER_COUNTED(op, path, fd) \
  pthread_mutex_lock(&lock);      \
  {                               \
    int counted_ = count_op(op, path, fd); \
    if (counted_) {               \
      pthread_mutex_unlock(&lock); \
      return counted_;            \
    }                             \
  }
#define LEAVE(r)                  \
  do {                            \
    int r_ = (r);                 \
    pthread_mutex_unlock(&lock);  \
    return r_;                    \
  } while (0)

static int fs_getattr(const char *path, struct stat *st, struct fuse_file_info *fi) {
  ENTER();
  char p[PATH_MAX];
  int r;
  if (fi) r = fstat(fi->fh, st);
  else {
    real(p, path);
    r = lstat(p, st);
  }
  LEAVE(r ? -errno : 0);
}

static int fs_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
                      struct fuse_file_info *fi, enum fuse_readdir_flags flags) {
  (void)off, (void)flags;
  ENTER();
  char p[PATH_MAX];
  real_dir(p, path, fi);
  DIR *d = opendir(p);
  if (!d) LEAVE(-errno);
  struct dirent *e;
  while ((e = readdir(d))) {
    struct stat st = {.st_ino = e->d_ino, .st_mode = (mode_t)e->d_type << 12};
    if (fill(buf, e->d_name, &st, 0, 0)) break;
  }
  closedir(d);
  LEAVE(0);
}

static int backing_flags(int flags) { return flags & ~(O_DIRECT | O_SYNC | O_DSYNC); }

static int fs_open(const char *path, struct fuse_file_info *fi) {
  char p[PATH_MAX];
  real(p, path);
  if (fi->flags & O_TRUNC) {
    ENTER_COUNTED("open-trunc", path, -1);
    int fd = open(p, backing_flags(fi->flags) & ~O_TRUNC);
    if (fd < 0) LEAVE(-errno);
    remember(fd, RESIZE, 0, 0);
    if (ftruncate(fd, 0) != 0) {
      close(fd);
      LEAVE(-errno);
    }
    fi->fh = fd;
    LEAVE(0);
  }
  ENTER();
  int fd = open(p, backing_flags(fi->flags));
  if (fd < 0) LEAVE(-errno);
  fi->fh = fd;
  LEAVE(0);
}

static int fs_create(const char *path, mode_t mode, struct fuse_file_info *fi) {
  ENTER_COUNTED("create", path, -1);
  char p[PATH_MAX];
  real(p, path);
  struct stat before;
  int existed = lstat(p, &before) == 0;
  int fd = open(p, backing_flags(fi->flags) & ~O_TRUNC, mode);
  if (fd < 0) LEAVE(-errno);
  if (existed && (fi->flags & O_TRUNC)) {
    remember(fd, RESIZE, 0, 0);
    if (ftruncate(fd, 0) != 0) {
      close(fd);
      LEAVE(-errno);
    }
  }
  fi->fh = fd;
  LEAVE(0);
}

static int fs_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi) {
  (void)path;
  ENTER();
  ssize_t n = pread(fi->fh, buf, size, off);
  LEAVE(n < 0 ? -errno : (int)n);
}

static int fs_write(const char *path, const char *buf, size_t size, off_t off,
                    struct fuse_file_info *fi) {
  (void)path;
  ENTER_COUNTED("write", NULL, (int)fi->fh);
  remember(fi->fh, WRITE, off, size);
  ssize_t n = pwrite(fi->fh, buf, size, off);
  LEAVE(n < 0 ? -errno : (int)n);
}

static int fs_truncate(const char *path, off_t size, struct fuse_file_info *fi) {
  ENTER_COUNTED("truncate", path, fi ? (int)fi->fh : -1);
  char p[PATH_MAX];
  int fd = fi ? (int)fi->fh : -1;
  if (fd < 0) {
    real(p, path);
    fd = open(p, O_WRONLY);
    if (fd < 0) LEAVE(-errno);
  }
  remember(fd, RESIZE, size, 0);
  int r = ftruncate(fd, size) ? -errno : 0;
  if (!fi) close(fd);
  LEAVE(r);
}

static int fs_fallocate(const char *path, int mode, off_t off, off_t len,
                        struct fuse_file_info *fi) {
  (void)path;
  if (mode & ~FALLOC_FL_KEEP_SIZE) return -EOPNOTSUPP;
  ENTER_COUNTED("fallocate", NULL, (int)fi->fh);
  struct stat st;
  if (fstat(fi->fh, &st) != 0) LEAVE(-errno);
  if (!(mode & FALLOC_FL_KEEP_SIZE) && off + len > st.st_size) remember(fi->fh, RESIZE, off + len, 0);
  LEAVE(fallocate(fi->fh, mode, off, len) ? -errno : 0);
}

static void delay_fsync(void) {
  if (fsync_delay_ms > 0) {
    struct timespec t = {fsync_delay_ms / 1000, (fsync_delay_ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
  }
}

static int fs_fsync(const char *path, int datasync, struct fuse_file_info *fi) {
  (void)path;
  pthread_mutex_lock(&lock);
  unsigned long long mark = seq; /* what was written before this fsync began */
  pthread_mutex_unlock(&lock);
  delay_fsync();
  ENTER_COUNTED(datasync ? "fdatasync" : "fsync", NULL, (int)fi->fh);
  struct stat st;
  if (fstat(fi->fh, &st) != 0) LEAVE(-errno);
  forget_until(st.st_ino, mark);
  LEAVE(0);
}

static int fs_opendir(const char *path, struct fuse_file_info *fi) {
  ENTER();
  char p[PATH_MAX];
  real(p, path);
  int fd = open(p, O_RDONLY | O_DIRECTORY);
  if (fd < 0) LEAVE(-errno);
  fi->fh = fd;
  LEAVE(0);
}

static int fs_releasedir(const char *path, struct fuse_file_info *fi) {
  (void)path;
  close(fi->fh);
  return 0;
}

static int fs_fsyncdir(const char *path, int datasync, struct fuse_file_info *fi) {
  (void)datasync;
  delay_fsync();
  ENTER_COUNTED("fsyncdir", path, fi ? (int)fi->fh : -1);
  char p[PATH_MAX];
  real_dir(p, path, fi);
  LEAVE(snapshot_dir(p));
}

static int fs_release(const char *path, struct fuse_file_info *fi) {
  (void)path;
  close(fi->fh);
  return 0;
}

static int fs_unlink(const char *path) {
  ENTER_COUNTED("unlink", path, -1);
  char p[PATH_MAX];
  real(p, path);
  bury(p);
  LEAVE(unlink(p) ? -errno : 0);
}

static int fs_rename(const char *from, const char *to, unsigned int flags) {
  if (flags & ~RENAME_NOREPLACE) return -EINVAL;
  ENTER_COUNTED("rename", to, -1);
  char a[PATH_MAX], b[PATH_MAX];
  real(a, from);
  real(b, to);
  if (!flags) bury(b);
  LEAVE(renameat2(AT_FDCWD, a, AT_FDCWD, b, flags) ? -errno : 0);
}

static int fs_link(const char *from, const char *to) {
  ENTER_COUNTED("link", to, -1);
  char a[PATH_MAX], b[PATH_MAX];
  real(a, from);
  real(b, to);
  LEAVE(link(a, b) ? -errno : 0);
}

static int fs_mkdir(const char *path, mode_t mode) {
  ENTER_COUNTED("mkdir", path, -1);
  char p[PATH_MAX];
  real(p, path);
  LEAVE(mkdir(p, mode) ? -errno : 0);
}

static int fs_rmdir(const char *path) {
  ENTER_COUNTED("rmdir", path, -1);
  char p[PATH_MAX];
  real(p, path);
  LEAVE(rmdir(p) ? -errno : 0);
}

static int fs_chmod(const char *path, mode_t mode, struct fuse_file_info *fi) {
  ENTER();
  char p[PATH_MAX];
  real(p, path);
  LEAVE((fi ? fchmod(fi->fh, mode) : chmod(p, mode)) ? -errno : 0);
}

static int fs_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi) {
  ENTER();
  char p[PATH_MAX];
  real(p, path);
  LEAVE((fi ? fchown(fi->fh, uid, gid) : lchown(p, uid, gid)) ? -errno : 0);
}

static int fs_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi) {
  ENTER();
  char p[PATH_MAX];
  real(p, path);
  LEAVE((fi ? futimens(fi->fh, tv) : utimensat(AT_FDCWD, p, tv, AT_SYMLINK_NOFOLLOW)) ? -errno : 0);
}

static int fs_statfs(const char *path, struct statvfs *st) {
  (void)path;
  ENTER();
  LEAVE(statvfs(backing, st) ? -errno : 0);
}

static int fs_access(const char *path, int mask) {
  ENTER();
  char p[PATH_MAX];
  real(p, path);
  LEAVE(access(p, mask) ? -errno : 0);
}

static void *fs_init(struct fuse_conn_info *conn, struct fuse_config *cfg) {
  conn->want &= ~FUSE_CAP_WRITEBACK_CACHE; /* every write must reach this process */
  cfg->use_ino = 1;
  cfg->hard_remove = 1; /* an unlinked open file keeps working through its handle */
  cfg->nullpath_ok = 1;
  cfg->entry_timeout = cfg->attr_timeout = cfg->negative_timeout = 0;
  say("ready\n");
  return NULL;
}

static const struct fuse_operations operations = {
    .init = fs_init,
    .getattr = fs_getattr,
    .opendir = fs_opendir,
    .readdir = fs_readdir,
    .releasedir = fs_releasedir,
    .open = fs_open,
    .create = fs_create,
    .read = fs_read,
    .write = fs_write,
    .truncate = fs_truncate,
    .fallocate = fs_fallocate,
    .fsync = fs_fsync,
    .fsyncdir = fs_fsyncdir,
    .release = fs_release,
    .unlink = fs_unlink,
    .rename = fs_rename,
    .link = fs_link,
    .mkdir = fs_mkdir,
    .rmdir = fs_rmdir,
    .chmod = fs_chmod,
    .chown = fs_chown,
    .utimens = fs_utimens,
    .statfs = fs_statfs,
    .access = fs_access,
};

/* ---- commands on stdin ---- */

static void *commands(void *unused) {
  (void)unused;
  char line[128];
  while (fgets(line, sizeof line, stdin)) {
    pthread_mutex_lock(&lock);
    if (!strncmp(line, "crash-after ", 12)) crash_after = atoll(line + 12);
    else if (!strcmp(line, "crash\n") && !crashed) crash_now("command", "-", -1);
    else if (!strcmp(line, "count\n")) say("count %lld\n", ops);
    pthread_mutex_unlock(&lock);
  }
  return NULL;
}

/* ---- the rebuild after a crash ---- */

struct where {
  ino_t ino;
  char *path;
};
static struct where *places;
static size_t place_count, place_cap;

static const char *place_of(ino_t ino) {
  for (size_t i = 0; i < place_count; i++)
    if (places[i].ino == ino) return places[i].path;
  return NULL;
}

static int note_place(const char *path, const struct stat *st, int type, struct FTW *ftw) {
  (void)ftw;
  if (type != FTW_F || !S_ISREG(st->st_mode) || place_of(st->st_ino)) return 0;
  if (place_count == place_cap) {
    place_cap = place_cap ? place_cap * 2 : 256;
    places = realloc(places, place_cap * sizeof *places);
  }
  places[place_count++] = (struct where){st->st_ino, strdup(path)};
  return 0;
}

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw) {
  (void)st, (void)ftw;
  return type == FTW_DP ? rmdir(path) : unlink(path);
}

static void remove_tree(const char *path) { nftw(path, remove_one, 32, FTW_DEPTH | FTW_PHYS); }

static long dropped_entries = 0;

/* Builds `target` as directory `ino` was at its last fsync, counting entries that differ. */
static void rebuild_dir(ino_t ino, const char *target, const char *current) {
  struct dir_state *d = dir_of(ino, 0);
  struct entry *now = NULL;
  size_t now_count = 0;
  if (current) list_dir(current, &now, &now_count);
  size_t same = 0;
  for (size_t i = 0; d && i < d->count; i++) {
    struct entry e = d->entries[i];
    char to[PATH_MAX], cur[PATH_MAX];
    snprintf(to, sizeof to, "%s/%s", target, e.name);
    const char *cur_path = NULL;
    for (size_t j = 0; j < now_count; j++)
      if (!strcmp(now[j].name, e.name) && now[j].ino == e.ino) {
        same++;
        snprintf(cur, sizeof cur, "%s/%s", current, e.name);
        cur_path = cur;
      }
    if (e.is_dir) {
      mkdir(to, 0755);
      rebuild_dir(e.ino, to, cur_path);
    } else {
      const char *from = place_of(e.ino);
      if (!from || link(from, to) != 0) say("warning: lost the file of %s\n", to);
    }
    d = dir_of(ino, 0);
  }
  dropped_entries += (long)((d ? d->count : 0) - same) + (long)(now_count - same);
  if (now) free_entries(now, now_count);
}

static unsigned long long next_random(void) {
  tear_seed ^= tear_seed << 13, tear_seed ^= tear_seed >> 7, tear_seed ^= tear_seed << 17;
  return tear_seed;
}

/* Rolls one file back, newest change first; `torn` (if any) keeps its first `cut` bytes. */
static void undo_file(struct file_state *f, int fd, struct undo *torn, size_t cut) {
  for (size_t i = f->count; i-- > 0;) {
    struct undo *u = &f->undos[i];
    if (torn && u != torn) continue; /* older writes of the torn file reached the disk */
    if (u->kind == WRITE) {
      off_t keep = u == torn ? (off_t)cut : 0;
      if (u->old_len > (size_t)keep) {
        size_t n = u->old_len - keep;
        if (u->old) (void)!pwrite(fd, u->old + keep, n, u->off + keep);
        else {
          char *zeros = calloc(1, n);
          (void)!pwrite(fd, zeros, n, u->off + keep);
          free(zeros);
        }
      }
      off_t end = keep > 0 ? u->off + keep : 0;
      (void)!ftruncate(fd, end > u->old_size ? end : u->old_size);
    } else {
      (void)!ftruncate(fd, u->old_size);
      if (u->old) (void)!pwrite(fd, u->old, u->old_len, u->off);
    }
  }
}

#define PAGE 4096

struct kept_page {
  off_t off;
  char *bytes;
  ssize_t len;
};

static int by_offset(const void *a, const void *b) {
  off_t x = *(const off_t *)a, y = *(const off_t *)b;
  return x < y ? -1 : x > y;
}

/*
 * --reorder: writeback takes dirty pages in no order the writer chose, so each 4 KiB page
 * that unsynced writes touched reaches the disk or not on its own. Reads the pages that do
 * (as the file holds them now), to be written back once the file is rolled back.
 */
static size_t pick_pages(struct file_state *f, int fd, struct kept_page **out) {
  size_t n = 0, cap = 0;
  off_t *pages = NULL;
  for (size_t i = 0; i < f->count; i++) {
    struct undo *u = &f->undos[i];
    if (u->kind != WRITE || u->len == 0) continue;
    for (off_t p = u->off / PAGE; p * PAGE < u->off + (off_t)u->len; p++) {
      if (n == cap) cap = cap ? cap * 2 : 64, pages = realloc(pages, cap * sizeof *pages);
      pages[n++] = p * PAGE;
    }
  }
  qsort(pages, n, sizeof *pages, by_offset);
  size_t kept = 0;
  *out = n ? malloc(n * sizeof **out) : NULL;
  for (size_t i = 0; i < n; i++) {
    if ((i > 0 && pages[i] == pages[i - 1]) || next_random() % 2) continue;
    char *bytes = malloc(PAGE);
    ssize_t got = pread(fd, bytes, PAGE, pages[i]);
    if (got <= 0) {
      free(bytes);
      continue;
    }
    (*out)[kept++] = (struct kept_page){pages[i], bytes, got};
  }
  free(pages);
  return kept;
}

static void rebuild(void) {
  nftw(backing, note_place, 32, FTW_PHYS);
  nftw(graves, note_place, 32, FTW_PHYS);
  char fresh[PATH_MAX + 16], old[PATH_MAX + 16];
  snprintf(fresh, sizeof fresh, "%s.crashfs-new", backing);
  snprintf(old, sizeof old, "%s.crashfs-old", backing);
  remove_tree(fresh);
  mkdir(fresh, 0755);
  struct stat root;
  lstat(backing, &root);
  rebuild_dir(root.st_ino, fresh, backing);

  struct file_state *torn_file = NULL;
  struct undo *torn = NULL;
  for (size_t i = 0; tear && i < file_count; i++)
    for (size_t j = 0; j < files[i].count; j++)
      if (files[i].undos[j].kind == WRITE && (!torn || files[i].undos[j].seq > torn->seq))
        torn_file = &files[i], torn = &files[i].undos[j];
  size_t cut = 0;
  if (torn) {
    /* A disk writes whole sectors: a torn write keeps the sectors of the file it reached,
     * so the cut falls on a 512-byte boundary of the file, not of the write. A write with
     * no such boundary inside keeps a prefix of bytes. */
    size_t len = torn->len;
    size_t lead = (size_t)((512 - torn->off % 512) % 512);
    if (lead == 0) lead = 512;
    cut = len <= 1 ? 0 : len > lead ? lead + 512 * (next_random() % ((len - 1 - lead) / 512 + 1)) : 1 + next_random() % (len - 1);
  }
  long dropped_writes = 0, kept_pages = 0;
  for (size_t i = 0; i < file_count; i++) {
    const char *path = place_of(files[i].ino);
    if (!path || files[i].count == 0) continue;
    int fd = open(path, O_RDWR);
    if (fd < 0) continue;
    int is_torn = &files[i] == torn_file;
    struct kept_page *pages = NULL;
    size_t kept = reorder ? pick_pages(&files[i], fd, &pages) : 0;
    undo_file(&files[i], fd, is_torn ? torn : NULL, cut);
    dropped_writes += is_torn ? 1 : (long)files[i].count;
    for (size_t k = 0; k < kept; k++) {
      (void)!pwrite(fd, pages[k].bytes, (size_t)pages[k].len, pages[k].off);
      free(pages[k].bytes);
    }
    free(pages);
    kept_pages += (long)kept;
    close(fd);
  }
  remove_tree(old);
  if (rename(backing, old) == 0 && rename(fresh, backing) == 0) remove_tree(old);
  else say("warning: could not put the rebuilt directory in place: %s\n", strerror(errno));
  say("rebuilt changes-dropped %ld entries-dropped %ld torn %zu/%zu pages-kept %ld\n",
      dropped_writes, dropped_entries, torn ? cut : 0, torn ? torn->len : 0, kept_pages);
}

/* ---- main ---- */

static int usage(void) {
  fprintf(stderr,
          "usage: crashfs [--crash-after N] [--tear SEED] [--reorder SEED] [--fsync-delay-ms N] "
          "BACKING MOUNTPOINT "
          "[FUSE options]\n");
  return 2;
}

int main(int argc, char **argv) {
  int i = 1;
  for (; i < argc && !strncmp(argv[i], "--", 2); i += 2) {
    if (i + 1 >= argc) return usage();
    if (!strcmp(argv[i], "--crash-after")) crash_after = atoll(argv[i + 1]);
    else if (!strcmp(argv[i], "--tear")) tear = 1, tear_seed = strtoull(argv[i + 1], NULL, 10) | 1;
    else if (!strcmp(argv[i], "--reorder"))
      reorder = 1, tear_seed ^= strtoull(argv[i + 1], NULL, 10) << 1;
    else if (!strcmp(argv[i], "--fsync-delay-ms")) fsync_delay_ms = atol(argv[i + 1]);
    else return usage();
  }
  if (argc - i < 2) return usage();
  if (!realpath(argv[i], backing)) {
    fprintf(stderr, "crashfs: %s: %s\n", argv[i], strerror(errno));
    return 2;
  }
  snprintf(graves, sizeof graves, "%s.crashfs-graves", backing);
  remove_tree(graves);
  if (mkdir(graves, 0700) != 0) {
    fprintf(stderr, "crashfs: cannot create %s: %s\n", graves, strerror(errno));
    return 2;
  }
  snapshot_tree(backing);

  /* FUSE sees: crashfs MOUNTPOINT -f [extra options]. Multi-threaded, so a delayed fsync
     does not hold up other operations. */
  char *fuse_argv[64];
  int fuse_argc = 0;
  fuse_argv[fuse_argc++] = argv[0];
  fuse_argv[fuse_argc++] = argv[i + 1];
  fuse_argv[fuse_argc++] = "-f";
  fuse_argv[fuse_argc++] = "-o";
  fuse_argv[fuse_argc++] = "fsname=crashfs,subtype=crashfs,max_threads=16";
  for (int j = i + 2; j < argc && fuse_argc < 63; j++) fuse_argv[fuse_argc++] = argv[j];
  fuse_argv[fuse_argc] = NULL;

  pthread_t reader;
  pthread_create(&reader, NULL, commands, NULL);
  pthread_detach(reader);
  int status = fuse_main(fuse_argc, fuse_argv, &operations, NULL);
  pthread_mutex_lock(&lock);
  if (crashed) rebuild();
  say("summary ops %lld crashed %d\n", ops, crashed);
  remove_tree(graves);
  return status;
}
