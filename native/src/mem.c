/* Memory helpers: memfill (hold N bytes resident: anonymous + mlock, or shared memory) and oom (allocate until the
   OOM killer acts, again after each kill). */
#include "common.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

static void touch(char *p, size_t len) {
  long pg = sysconf(_SC_PAGESIZE);
  if (pg <= 0) pg = 4096;
  for (size_t off = 0; off < len; off += (size_t)pg) p[off] = (char)(1 + (off / (size_t)pg) % 250);
}

/* Allocate len bytes: anonymous (ram) or shared memory (cache). Returns 0 or -errno; *unlocked counts what mlock
   refused (it stays resident while there is memory, but may be swapped). */
static int grab(int cache, int memfd, size_t *memfd_size, size_t len, size_t *unlocked) {
  if (!cache) {
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return -errno;
    touch(p, len);
    if (mlock(p, len) != 0 && unlocked) *unlocked += len;
    return 0;
  }
  off_t off = (off_t)*memfd_size;
  if (fallocate(memfd, 0, off, (off_t)len) != 0) {
    int e = errno;
    if (e != EOPNOTSUPP) return -e;
    if (ftruncate(memfd, off + (off_t)len) != 0) return -errno;
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, off);
    if (p == MAP_FAILED) return -errno;
    touch(p, len);
    if (munmap(p, len) != 0) return -errno;
  }
  *memfd_size += len;
  return 0;
}

static int mode_is_cache(int argc, char **argv) {
  const char *m = arg(argc, argv, "mode");
  if (!m || strcmp(m, "ram") == 0) return 0;
  if (strcmp(m, "cache") == 0) return 1;
  fail("bad mode=%s", m);
}

int run_memfill(int argc, char **argv) {
  int cache = mode_is_cache(argc, argv);
  long long bytes = num(argc, argv, "bytes", -1, 1, (long long)1 << 50);
  if (bytes < 0) fail("memfill needs bytes=");
  if (prctl(PR_SET_NAME, cache ? "chaosmeta_cache" : "chaosmeta_mem") != 0) fail("prctl: %s", strerror(errno));
  int memfd = -1;
  size_t have = 0, unlocked = 0;
  if (cache && (memfd = memfd_create("chaosmeta-cache", 0)) < 0) fail("memfd_create: %s", strerror(errno));
  /* in chunks, so a failure says how far it got */
  const size_t chunk = 64ull << 20;
  size_t done = 0;
  while (done < (size_t)bytes) {
    /* a fill of gigabytes takes seconds to minutes: the experiment's deadline holds during it too */
    if (deadline_passed())
      fail("the experiment's deadline came during the fill, with %zu of %lld bytes held: stopped there and freed them "
           "(a longer --timeout, or fewer bytes)", done, bytes);
    size_t len = (size_t)bytes - done < chunk ? (size_t)bytes - done : chunk;
    int rc = grab(cache, memfd, &have, len, &unlocked);
    if (rc != 0) fail("could allocate only %zu of %lld bytes: %s", done, bytes, strerror(-rc));
    done += len;
  }
  ready("memfill mode=%s bytes=%lld unlocked=%zu", cache ? "cache" : "ram", bytes, unlocked);
  if (unlocked) report("mlock refused %zu of %lld bytes: they are resident now but may be swapped out", unlocked, bytes);
  while (!expired()) sleep_s(1);
  return 0;
}

int run_oom(int argc, char **argv) {
  int cache = mode_is_cache(argc, argv);
  if (prctl(PR_SET_NAME, "chaosmeta_oom") != 0) fail("prctl: %s", strerror(errno));
  /* the supervisor should survive the OOM killer; its child is the one meant to die. Lowering the score needs
     CAP_SYS_RESOURCE, which a root without it (some sandboxes) lacks: then it is said, and the child, at 1000,
     still goes first */
  int rc = write_file("/proc/self/oom_score_adj", "-1000");
  catch_stop();
  ready("oom mode=%s protected=%d", cache ? "cache" : "ram", rc == 0);
  if (rc != 0)
    report("cannot protect the supervisor from the OOM killer (%s); its allocating child is still the first victim",
           strerror(-rc));
  long kills = 0;
  while (!stop_requested() && !expired()) {
    pid_t child = fork();
    if (child < 0) {
      report("fork: %s (trying again in 1 s)", strerror(errno));
      sleep_s(1);
      continue;
    }
    if (child == 0) {
      if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) _exit(1);
      prctl(PR_SET_NAME, "chaosmeta_oomf");
      if (write_file("/proc/self/oom_score_adj", "1000") != 0) report("the allocating child could not raise its OOM score");
      signal(SIGTERM, SIG_DFL);
      signal(SIGINT, SIG_DFL);
      int memfd = -1;
      size_t have = 0;
      if (cache && (memfd = memfd_create("chaosmeta-oom", 0)) < 0) {
        report("memfd_create: %s", strerror(errno));
        _exit(1);
      }
      for (;;) {
        if (grab(cache, memfd, &have, 16ull << 20, NULL) != 0) sleep_s(0.05);
      }
    }
    int status = 0;
    while (waitpid(child, &status, 0) < 0) {
      if (errno != EINTR) break;
      if (stop_requested() || expired()) kill(child, SIGKILL);
    }
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL && !stop_requested()) kills++;
    if (!stop_requested()) sleep_s(0.5);
  }
  (void)kills;
  return 0;
}
