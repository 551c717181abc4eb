/* File helpers: append (append a file's bytes to a path, N times) and diskio (sustained direct I/O on a new file). */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

static int append_once(int fd, const char *buf, size_t len) {
  size_t off = 0;
  while (off < len) {
    ssize_t w = write(fd, buf + off, len - off);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    off += (size_t)w;
  }
  if (fsync(fd) != 0 && errno != EINVAL) return -errno;
  return 0;
}

/*
 * The file is opened once, without following a link, and must be the inode chaosmetad recorded (ino=): every
 * append goes to that file through this descriptor, so swapping the path for a link (to a secret, say) while we
 * run writes nothing through the link.
 */
int run_append(int argc, char **argv) {
  const char *path = arg(argc, argv, "path");
  const char *src = arg(argc, argv, "src");
  const char *ino = arg(argc, argv, "ino");
  long long count = num(argc, argv, "count", 1, 1, 1000000000);
  long long interval_ms = num(argc, argv, "interval-ms", 1000, 0, 1ll << 40);
  if (!path || !src) fail("append needs path= and src=");
  if (prctl(PR_SET_NAME, "chaosmeta_append") != 0) fail("prctl: %s", strerror(errno));
  int sfd = open(src, O_RDONLY | O_CLOEXEC);
  if (sfd < 0) fail("cannot read %s: %s", src, strerror(errno));
  static char buf[1 << 20];
  ssize_t len = read(sfd, buf, sizeof buf);
  int rerr = errno;
  close(sfd);
  if (len < 0) fail("cannot read %s: %s", src, strerror(rerr));
  int fd = open(path, O_WRONLY | O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) fail("cannot open %s: %s", path, errno == ELOOP ? "it is a symbolic link" : strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0) fail("cannot stat %s: %s", path, strerror(errno));
  if (!S_ISREG(st.st_mode)) fail("%s is not a regular file", path);
  if (ino && strtoull(ino, NULL, 10) != (unsigned long long)st.st_ino)
    fail("%s is no longer the file chaosmetad checked (inode %llu, not %s)", path, (unsigned long long)st.st_ino, ino);
  int rc = append_once(fd, buf, (size_t)len);
  if (rc) fail("cannot append to %s: %s", path, strerror(-rc));
  ready("append count=%lld", count);
  for (long long i = 1; i < count && !expired(); i++) {
    sleep_s(interval_ms / 1000.0);
    rc = append_once(fd, buf, (size_t)len);
    if (rc != 0) fail("append to %s failed after %lld of %lld: %s", path, i, count, strerror(-rc));
  }
  if (close(fd) != 0) report("close %s: %s", path, strerror(errno));
  return 0;
}

/* Sustained direct I/O on one file: write (or read) `block` bytes at a time over `size` bytes, round and round. */
int run_diskio(int argc, char **argv) {
  const char *path = arg(argc, argv, "file");
  const char *m = arg(argc, argv, "mode");
  long long block = num(argc, argv, "block", 10 << 20, 4096, 1ll << 30);
  long long size = num(argc, argv, "size", 256 << 20, 4096, 1ll << 50);
  if (!path || !m) fail("diskio needs file= and mode=");
  int writing = strcmp(m, "write") == 0;
  if (!writing && strcmp(m, "read") != 0) fail("bad mode=%s", m);
  if (prctl(PR_SET_NAME, writing ? "chaosmeta_iow" : "chaosmeta_ior") != 0) fail("prctl: %s", strerror(errno));
  block = (block + 4095) / 4096 * 4096;
  if (size < block) size = block;
  size = size / block * block;
  void *buf;
  if (posix_memalign(&buf, 4096, (size_t)block) != 0) fail("out of memory for a %lld-byte block", block);
  memset(buf, 0x5a, (size_t)block);
  int direct = 1;
  /* a new file, created exclusively: a link or file planted at the name is refused, never written through */
  int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0)
    fail("cannot create %s: %s", path, errno == EEXIST ? "something already exists at that name" : strerror(errno));
  /* direct I/O where the filesystem has it (tmpfs has not) */
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl | O_DIRECT) != 0) direct = 0;
  if (!writing) {
    /* the file to read must exist first */
    for (long long off = 0; off < size; off += block) {
      if (pwrite(fd, buf, (size_t)block, off) != block) {
        int e = errno;
        unlink(path);
        fail("cannot prepare %s: %s", path, strerror(e));
      }
    }
    if (fsync(fd) != 0) {
      int e = errno;
      unlink(path);
      fail("cannot prepare %s: fsync: %s", path, strerror(e));
    }
  }
  ready("diskio mode=%s block=%lld size=%lld direct=%d", m, block, size, direct);
  long long off = 0;
  int failing = 0;
  for (unsigned long n = 0;; n++) {
    ssize_t r = writing ? pwrite(fd, buf, (size_t)block, off) : pread(fd, buf, (size_t)block, off);
    if (r < 0 && errno != EINTR) {
      /* e.g. ENOSPC: say so once, keep trying gently */
      if (!failing++) report("%s %s: %s (retrying every 0.1 s)", writing ? "write" : "read", path, strerror(errno));
      sleep_s(0.1);
    } else if (r >= 0 && failing) {
      report("%s %s works again after %d failures", writing ? "write" : "read", path, failing);
      failing = 0;
    }
    off += block;
    if (off >= size) off = 0;
    if (!direct) {
      if (writing && fdatasync(fd) != 0 && !failing++) report("fdatasync %s: %s", path, strerror(errno));
      int adv = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
      if (adv != 0 && n == 0) report("posix_fadvise %s: %s (the page cache absorbs some I/O)", path, strerror(adv));
    }
    if ((n & 15) == 0 && expired()) break;
  }
  if (close(fd) != 0) report("close %s: %s", path, strerror(errno));
  if (unlink(path) != 0) report("cannot remove %s: %s (recover removes it)", path, strerror(errno));
  return 0;
}
