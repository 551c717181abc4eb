/*
 * tree: copy or remove a file tree on descriptors only, for the file faults (not a fault helper: a one-shot command
 * like jattach).
 *
 *   chaosmetad-helper tree copy SRCDIRFD SRCNAME DSTDIRFD DSTNAME
 *   chaosmetad-helper tree rm DIRFD NAME
 *
 * The directories are inherited descriptors (chaosmetad opened them without following links); every entry below is
 * reached with the *at() calls relative to its parent's descriptor and opened O_NOFOLLOW, and a descriptor opened
 * is checked to be the entry that was looked at (device and inode), so a directory renamed away and replaced by a
 * symbolic link while the tree is walked is never followed: the walk goes on in the directory it opened, or stops
 * with an error. (`cp -r` and `rm -r` given a path re-resolve it; a link planted in the middle of a copy made root
 * write the rest of the tree anywhere.)
 *
 * copy: DSTNAME must not exist; it is created exclusively, with everything below: regular files (holes kept),
 * directories, symbolic links (copied as links), fifos, device nodes and sockets, hard links within the tree kept as
 * links; then, on the descriptor of each new entry, owner, mode, extended attributes (file capabilities, ACLs) and
 * nanosecond times (a directory's after its entries). Ends with syncfs of the destination. The destination should
 * be a directory only root can enter (chaosmetad's staging directory): nothing in it is looked up by path again.
 * rm: removes NAME and everything below it, never crossing into another filesystem (a mount point below is left,
 * and reported) and never following a link.
 * Exit 0 done; 1 an error (named on stderr, with the entry's path relative to the tree); 5 bad arguments.
 */
#include "common.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#define COPY_CHUNK (1 << 20)

static int errors;
/* the destination's parent and the copy's name there: hard links resolve below it (nobody else can enter) */
static int top_dir = -1;
static const char *top_name;

static void err(const char *rel, const char *what) {
  fprintf(stderr, "tree: %s: %s: %s\n", rel[0] ? rel : ".", what, strerror(errno));
  errors++;
}

static char *join(const char *rel, const char *name) {
  size_t n = strlen(rel) + strlen(name) + 2;
  char *p = malloc(n);
  if (!p) {
    fprintf(stderr, "tree: out of memory\n");
    exit(1);
  }
  snprintf(p, n, "%s%s%s", rel, rel[0] ? "/" : "", name);
  return p;
}

/* ---- hard links within the copied tree: (dev, ino) of the source -> the copy's path below the destination ---- */
struct link {
  dev_t dev;
  ino_t ino;
  char *rel;
};
static struct link *links;
static size_t nlinks, caplinks;

static const char *link_find(const struct stat *st) {
  for (size_t i = 0; i < nlinks; i++)
    if (links[i].dev == st->st_dev && links[i].ino == st->st_ino) return links[i].rel;
  return NULL;
}

static void link_add(const struct stat *st, const char *rel) {
  if (nlinks == caplinks) {
    caplinks = caplinks ? caplinks * 2 : 64;
    links = realloc(links, caplinks * sizeof *links);
    if (!links) {
      fprintf(stderr, "tree: out of memory\n");
      exit(1);
    }
  }
  links[nlinks++] = (struct link){st->st_dev, st->st_ino, strdup(rel)};
}

/* ---- extended attributes, from one descriptor (or a link through its parent) to another ---- */
/* for a symbolic link, which cannot be opened: its parent's descriptor and its name, via /proc/self/fd (the l*
   calls do not follow the final component) */
static void fdpath(char *buf, size_t n, int dirfd, const char *name) {
  snprintf(buf, n, "/proc/self/fd/%d/%s", dirfd, name);
}

static void copy_xattrs(int sfd, int dfd, int sdir, const char *sname, int ddir, const char *dname, const char *rel) {
  char sp[4200], dp[4200];
  if (sfd < 0) fdpath(sp, sizeof sp, sdir, sname);
  if (dfd < 0) fdpath(dp, sizeof dp, ddir, dname);
  ssize_t len = sfd >= 0 ? flistxattr(sfd, NULL, 0) : llistxattr(sp, NULL, 0);
  if (len <= 0) {
    if (len < 0 && errno != ENOTSUP && errno != EOPNOTSUPP) err(rel, "listing extended attributes");
    return;
  }
  char *names = malloc((size_t)len);
  if (!names) return;
  len = sfd >= 0 ? flistxattr(sfd, names, (size_t)len) : llistxattr(sp, names, (size_t)len);
  for (ssize_t off = 0; len > 0 && off < len; off += (ssize_t)strlen(names + off) + 1) {
    const char *k = names + off;
    ssize_t vl = sfd >= 0 ? fgetxattr(sfd, k, NULL, 0) : lgetxattr(sp, k, NULL, 0);
    if (vl < 0) continue;
    char *v = malloc((size_t)vl + 1);
    if (!v) continue;
    vl = sfd >= 0 ? fgetxattr(sfd, k, v, (size_t)vl) : lgetxattr(sp, k, v, (size_t)vl);
    if (vl >= 0) {
      int r = dfd >= 0 ? fsetxattr(dfd, k, v, (size_t)vl, 0) : lsetxattr(dp, k, v, (size_t)vl, 0);
      if (r != 0 && errno != ENOTSUP && errno != EOPNOTSUPP) {
        char what[300];
        snprintf(what, sizeof what, "setting extended attribute %s", k);
        err(rel, what);
      }
    }
    free(v);
  }
  free(names);
}

/* owner, then mode (a chown clears set-id bits), then attributes (a chown also drops security.capability), then
   times (last: each of the others changes ctime only, but a copy into a directory changes its mtime) */
static void copy_meta(const struct stat *st, int dfd, int sfd, int sdir, const char *sname, int ddir, const char *dname,
                      const char *rel) {
  int islnk = S_ISLNK(st->st_mode);
  int owned = (dfd >= 0 ? fchown(dfd, st->st_uid, st->st_gid) : fchownat(ddir, dname, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW)) == 0;
  if (!owned) err(rel, "setting the owner");
  /* a copy that stayed root's (the owner could not be set: root_squash, an idmapped mount) never gets the set-id
     bits or file capabilities of someone else's bytes */
  mode_t mode = st->st_mode & (owned ? 07777 : 01777);
  if (!islnk && (dfd >= 0 ? fchmod(dfd, mode) : fchmodat(ddir, dname, mode, 0)) != 0) err(rel, "setting the mode");
  if (owned) copy_xattrs(sfd, dfd, sdir, sname, ddir, dname, rel);
  struct timespec ts[2] = {st->st_atim, st->st_mtim};
  if ((dfd >= 0 ? futimens(dfd, ts) : utimensat(ddir, dname, ts, AT_SYMLINK_NOFOLLOW)) != 0) err(rel, "setting the times");
}

/* the bytes of a regular file, holes kept (SEEK_DATA/SEEK_HOLE where the filesystem has them) */
static int copy_bytes(int sfd, int dfd, off_t size, const char *rel) {
  static char *buf;
  if (!buf && !(buf = malloc(COPY_CHUNK))) return errno = ENOMEM, err(rel, "copying"), -1;
  off_t pos = 0;
  while (pos < size) {
    off_t data = lseek(sfd, pos, SEEK_DATA);
    if (data < 0) {
      if (errno == ENXIO) break; /* a hole to the end */
      data = pos;                /* no SEEK_DATA here: copy everything */
    }
    off_t hole = lseek(sfd, data, SEEK_HOLE);
    if (hole < 0 || hole > size) hole = size;
    for (off_t at = data; at < hole;) {
      size_t want = (size_t)(hole - at < COPY_CHUNK ? hole - at : COPY_CHUNK);
      ssize_t n = pread(sfd, buf, want, at);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return err(rel, "reading"), -1;
      if (n == 0) break; /* shrunk meanwhile */
      for (ssize_t w = 0; w < n;) {
        ssize_t m = pwrite(dfd, buf + w, (size_t)(n - w), at + w);
        if (m < 0 && errno == EINTR) continue;
        if (m < 0) return err(rel, "writing"), -1;
        w += m;
      }
      at += n;
    }
    pos = hole;
  }
  if (ftruncate(dfd, size) != 0) return err(rel, "setting the size"), -1;
  return 0;
}

/* open sname in sdir without following a link and check it is what lstat saw (nothing swapped in between) */
static int open_same(int sdir, const char *sname, int flags, const struct stat *st, const char *rel) {
  int fd = openat(sdir, sname, flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return err(rel, "opening"), -1;
  struct stat now;
  if (fstat(fd, &now) != 0 || now.st_dev != st->st_dev || now.st_ino != st->st_ino) {
    close(fd);
    errno = ESTALE;
    return err(rel, "changed while it was copied"), -1;
  }
  return fd;
}

static void copy_entry(int sdir, const char *sname, int ddir, const char *dname, const char *rel);

static void copy_dir(int sfd, int dfd, const char *rel) {
  int rfd = dup(sfd);
  DIR *d = rfd >= 0 ? fdopendir(rfd) : NULL;
  if (!d) {
    if (rfd >= 0) close(rfd);
    err(rel, "reading the directory");
    return;
  }
  struct dirent *e;
  errno = 0;
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    char *crel = join(rel, e->d_name);
    copy_entry(sfd, e->d_name, dfd, e->d_name, crel);
    free(crel);
    errno = 0;
  }
  if (errno) err(rel, "reading the directory");
  closedir(d);
}

static void copy_entry(int sdir, const char *sname, int ddir, const char *dname, const char *rel) {
  struct stat st;
  if (fstatat(sdir, sname, &st, AT_SYMLINK_NOFOLLOW) != 0) return err(rel, "reading");
  if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) {
    const char *first = link_find(&st);
    if (first && linkat(top_dir, first, ddir, dname, 0) == 0) return;
  }
  int sfd = -1, dfd = -1;
  if (S_ISDIR(st.st_mode)) {
    if ((sfd = open_same(sdir, sname, O_RDONLY | O_DIRECTORY, &st, rel)) < 0) return;
    if (mkdirat(ddir, dname, 0700) != 0) {
      close(sfd);
      return err(rel, "creating the directory");
    }
    if ((dfd = openat(ddir, dname, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
      close(sfd);
      return err(rel, "opening the new directory");
    }
    copy_dir(sfd, dfd, rel);
  } else if (S_ISREG(st.st_mode)) {
    if ((sfd = open_same(sdir, sname, O_RDONLY, &st, rel)) < 0) return;
    if ((dfd = openat(ddir, dname, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0) {
      close(sfd);
      return err(rel, "creating the file");
    }
    copy_bytes(sfd, dfd, st.st_size, rel);
  } else if (S_ISLNK(st.st_mode)) {
    char target[PATH_MAX + 1];
    ssize_t n = readlinkat(sdir, sname, target, PATH_MAX);
    if (n < 0) return err(rel, "reading the link");
    target[n] = 0;
    if (symlinkat(target, ddir, dname) != 0) return err(rel, "creating the link");
  } else {
    /* fifo, device, socket: a new node (mknod never opens it) */
    if (mknodat(ddir, dname, (st.st_mode & S_IFMT) | 0600, st.st_rdev) != 0) return err(rel, "creating the node");
  }
  copy_meta(&st, dfd, sfd, sdir, sname, ddir, dname, rel);
  if (!S_ISDIR(st.st_mode) && st.st_nlink > 1) {
    char *full = rel[0] ? join(top_name, rel) : strdup(top_name);
    link_add(&st, full);
    free(full);
  }
  if (dfd >= 0) close(dfd);
  if (sfd >= 0) close(sfd);
}

/* ---- rm ---- */
static void rm_entry(int dir, const char *name, dev_t dev, const char *rel);

static void rm_dir_contents(int fd, dev_t dev, const char *rel) {
  int rfd = dup(fd);
  DIR *d = rfd >= 0 ? fdopendir(rfd) : NULL;
  if (!d) {
    if (rfd >= 0) close(rfd);
    err(rel, "reading the directory");
    return;
  }
  /* names first, then removals: removing while reading may skip entries */
  char **names = NULL;
  size_t n = 0, cap = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    if (n == cap && !(names = realloc(names, (cap = cap ? cap * 2 : 64) * sizeof *names))) exit(1);
    names[n++] = strdup(e->d_name);
  }
  closedir(d);
  for (size_t i = 0; i < n; i++) {
    char *crel = join(rel, names[i]);
    rm_entry(fd, names[i], dev, crel);
    free(crel);
    free(names[i]);
  }
  free(names);
}

/* the mount a descriptor is on (a bind mount of the same filesystem has the same st_dev): 0 when unknown */
static unsigned long long mount_id(int fd) {
  struct statx sx;
  if (statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, STATX_MNT_ID, &sx) != 0 || !(sx.stx_mask & STATX_MNT_ID)) return 0;
  return sx.stx_mnt_id;
}
static unsigned long long top_mnt;

static void rm_entry(int dir, const char *name, dev_t dev, const char *rel) {
  if (unlinkat(dir, name, 0) == 0 || errno == ENOENT) return; /* anything but a directory (a link: the link) */
  if (errno != EISDIR && errno != EPERM) return err(rel, "removing");
  int fd = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ELOOP || errno == ENOTDIR) { /* swapped for a non-directory meanwhile: remove that */
      if (unlinkat(dir, name, 0) != 0 && errno != ENOENT) err(rel, "removing");
    } else if (errno != ENOENT)
      err(rel, "opening the directory");
    return;
  }
  struct stat st;
  if (fstat(fd, &st) != 0) {
    close(fd);
    return err(rel, "reading");
  }
  unsigned long long mnt = mount_id(fd);
  if (st.st_dev != dev || (top_mnt && mnt && mnt != top_mnt)) {
    close(fd);
    errno = EXDEV;
    return err(rel, "another filesystem (or a bind mount) is mounted here; not removing it");
  }
  rm_dir_contents(fd, dev, rel);
  close(fd);
  /* ENOTDIR/ENOENT: the directory was renamed away meanwhile (and something else, or nothing, put in its place):
     what was in it is removed, the empty directory is where its renamer put it, the new entry is not ours */
  if (unlinkat(dir, name, AT_REMOVEDIR) != 0 && errno != ENOENT && errno != ENOTDIR) err(rel, "removing the directory");
}

static int fdarg(const char *s) {
  char *end;
  long v = strtol(s, &end, 10);
  if (*s == 0 || *end || v < 0 || v > 1 << 20) return -1;
  struct stat st;
  if (fstat((int)v, &st) != 0 || !S_ISDIR(st.st_mode)) return -1;
  return (int)v;
}

static int name_ok(const char *s) { return s[0] && strchr(s, '/') == NULL && strcmp(s, ".") && strcmp(s, ".."); }

int run_tree(int argc, char **argv) {
  /* dies with chaosmetad: a copy cut short by a kill stops there (recover removes the staging directory) instead of
     going on beside the recover */
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() == 1) return 1;
  /* deep trees: a descriptor per level */
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  umask(0);
  if (argc == 7 && !strcmp(argv[2], "copy")) {
    int sdir = fdarg(argv[3]), ddir = fdarg(argv[5]);
    if (sdir < 0 || ddir < 0 || !name_ok(argv[4]) || !name_ok(argv[6])) {
      fprintf(stderr, "tree copy: bad arguments\n");
      return 5;
    }
    struct stat dst;
    if (fstatat(ddir, argv[6], &dst, AT_SYMLINK_NOFOLLOW) == 0 || errno != ENOENT) {
      fprintf(stderr, "tree copy: the destination %s exists\n", argv[6]);
      return 1;
    }
    top_dir = ddir;
    top_name = argv[6];
    copy_entry(sdir, argv[4], ddir, argv[6], "");
    if (syncfs(ddir) != 0) err("", "syncfs");
    return errors ? 1 : 0;
  }
  if (argc == 5 && !strcmp(argv[2], "rm")) {
    int dir = fdarg(argv[3]);
    if (dir < 0 || !name_ok(argv[4])) {
      fprintf(stderr, "tree rm: bad arguments\n");
      return 5;
    }
    struct stat st;
    if (fstat(dir, &st) != 0) return 1;
    top_mnt = mount_id(dir);
    rm_entry(dir, argv[4], st.st_dev, "");
    return errors ? 1 : 0;
  }
  fprintf(stderr, "usage: chaosmetad-helper tree copy SRCDIRFD SRCNAME DSTDIRFD DSTNAME | tree rm DIRFD NAME\n");
  return 5;
}
