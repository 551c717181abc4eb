/*
 * chaosmetad-helper: the small processes that hold a fault in place.
 *
 *   chaosmetad-helper MODE --chaosmetad-uid=UID [key=value ...]
 *
 * Modes:
 *   burn    core=N percent=P    hold core N's TOTAL utilisation at P% (adapts to other load)
 *   load    threads=N           N runnable SCHED_IDLE threads (raise the load average)
 *   memfill mode=ram|cache bytes=N   hold N bytes resident (ram: anonymous+mlock, cache: shmem)
 *   oom     mode=ram|cache      keep allocating until the OOM killer acts; restart after each kill
 *   diskio  file=F mode=read|write block=B size=S   sustained direct I/O on F
 *   fdfill  count=N             hold N open files over as many processes as RLIMIT_NOFILE needs
 *   nproc   uid=U gid=G count=N become the user, fork until EAGAIN (or N children)
 *   occupy  port=N proto=tcp|udp|tcp6|udp6 [retry-ms=M]   hold a port (bound, and listening for tcp)
 *   append  path=P src=F count=N interval-ms=I [ino=N]   append F's bytes to P (opened once, no link), N times, I ms apart
 *
 * Common keys: deadline=EPOCH_MS (0 = none): the helper exits by itself once the deadline (plus
 * grace=MS, default 2000) has passed, so a fault never outlives a lost recover.
 * On success the helper writes one line "ready ..." to stdout, then points stdout/stderr at
 * /dev/null; on failure it writes "error <reason>" and exits 1. The uid tag in argv is how
 * chaosmetad finds its helpers after a restart; nothing here reads it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <grp.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long g_deadline_ms = 0;
static long long g_grace_ms = 2000;

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double mono_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int expired(void) { return g_deadline_ms > 0 && now_ms() > g_deadline_ms + g_grace_ms; }

static void fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  printf("error ");
  vprintf(fmt, ap);
  printf("\n");
  fflush(stdout);
  va_end(ap);
  exit(1);
}

static void ready(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  printf("ready ");
  vprintf(fmt, ap);
  printf("\n");
  fflush(stdout);
  va_end(ap);
  int fd = open("/dev/null", O_RDWR);
  if (fd >= 0) {
    dup2(fd, 0);
    dup2(fd, 1);
    dup2(fd, 2);
    if (fd > 2) close(fd);
  }
}

static const char *arg(int argc, char **argv, const char *key) {
  size_t n = strlen(key);
  for (int i = 2; i < argc; i++)
    if (strncmp(argv[i], key, n) == 0 && argv[i][n] == '=') return argv[i] + n + 1;
  return NULL;
}

static long long num(int argc, char **argv, const char *key, long long def, long long lo, long long hi) {
  const char *v = arg(argc, argv, key);
  if (!v) return def;
  char *end;
  errno = 0;
  long long x = strtoll(v, &end, 10);
  if (errno || *end || end == v || x < lo || x > hi) fail("bad %s=%s", key, v);
  return x;
}

static void sleep_s(double s) {
  if (s <= 0) return;
  struct timespec ts = {(time_t)s, (long)((s - (time_t)s) * 1e9)};
  while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {}
}

/* ---- burn ---------------------------------------------------------------------------- */

static int read_core(int core, unsigned long long *busy, unsigned long long *total) {
  FILE *f = fopen("/proc/stat", "r");
  if (!f) return -1;
  char line[512], name[32];
  snprintf(name, sizeof name, "cpu%d ", core);
  int found = -1;
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, name, strlen(name)) != 0) continue;
    unsigned long long v[10] = {0};
    int n = sscanf(line + strlen(name), "%llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
                   &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]);
    if (n < 4) break;
    /* user nice system idle iowait irq softirq steal (guest time is already inside user) */
    unsigned long long t = 0;
    for (int i = 0; i < 8 && i < n; i++) t += v[i];
    *total = t;
    *busy = t - v[3] - (n > 4 ? v[4] : 0);
    found = 0;
    break;
  }
  fclose(f);
  return found;
}

static int run_burn(int argc, char **argv) {
  int core = (int)num(argc, argv, "core", -1, 0, 4095);
  int percent = (int)num(argc, argv, "percent", -1, 1, 100);
  if (core < 0 || percent < 0) fail("burn needs core= and percent=");
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(core, &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0) fail("cannot pin to core %d: %s", core, strerror(errno));
  unsigned long long b0, t0;
  if (read_core(core, &b0, &t0) != 0) fail("core %d not in /proc/stat", core);
  prctl(PR_SET_NAME, "chaosmeta_burn");
  ready("burn core=%d percent=%d", core, percent);

  const double period = 0.017; /* not a multiple of the tick, so sampling does not lock onto it */
  const double window = 0.5;   /* feedback from /proc/stat every half second */
  double own = percent;        /* our own duty cycle, in percent */
  double wstart = mono_s();
  for (;;) {
    if (percent == 100) {
      for (volatile int i = 0; i < 50000000; i++) {}
      if (expired()) return 0;
      continue;
    }
    double start = mono_s();
    double busy_until = start + period * own / 100.0;
    while (mono_s() < busy_until) {}
    sleep_s(start + period - mono_s());
    if (mono_s() - wstart >= window) {
      unsigned long long b1, t1;
      if (read_core(core, &b1, &t1) == 0 && t1 > t0) {
        double measured = 100.0 * (double)(b1 - b0) / (double)(t1 - t0);
        own += 0.7 * (percent - measured);
        if (own < 0) own = 0;
        if (own > 100) own = 100;
        b0 = b1;
        t0 = t1;
      }
      wstart = mono_s();
      if (expired()) return 0;
    }
  }
}

static void write_file(const char *path, const char *text) {
  int fd = open(path, O_WRONLY);
  if (fd < 0) return;
  if (write(fd, text, strlen(text)) < 0) {}
  close(fd);
}

/* ---- load ---------------------------------------------------------------------------- */

static void *spin(void *unused) {
  (void)unused;
  struct sched_param sp = {0};
  pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp);
  for (;;) {
    for (volatile int i = 0; i < 10000000; i++) {}
  }
  return NULL;
}

static int run_load(int argc, char **argv) {
  int threads = (int)num(argc, argv, "threads", -1, 1, 100000);
  if (threads < 0) fail("load needs threads=");
  prctl(PR_SET_NAME, "chaosmeta_load");
  /* we run in our own session, which the scheduler's autogroup feature treats as a group with a full share of
     its own: lower the group's weight too, or SCHED_IDLE inside it would not yield to the rest of the host */
  write_file("/proc/self/autogroup", "19");
  for (int i = 0; i < threads; i++) {
    pthread_t t;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setstacksize(&a, 64 * 1024);
    int rc = pthread_create(&t, &a, spin, NULL);
    pthread_attr_destroy(&a);
    if (rc != 0) fail("cannot start thread %d of %d: %s", i + 1, threads, strerror(rc));
  }
  ready("load threads=%d", threads);
  while (!expired()) sleep_s(1);
  return 0;
}

/* ---- memory -------------------------------------------------------------------------- */

static void touch(char *p, size_t len) {
  long pg = sysconf(_SC_PAGESIZE);
  for (size_t off = 0; off < len; off += (size_t)pg) p[off] = (char)(1 + (off / (size_t)pg) % 250);
}

/* Allocate len bytes: anonymous (ram) or shared memory (cache). Returns 0 or -errno. */
static int grab(int cache, int memfd, size_t *memfd_size, size_t len) {
  if (!cache) {
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return -errno;
    touch(p, len);
    mlock(p, len); /* best effort: keep it resident (root has CAP_IPC_LOCK) */
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
    munmap(p, len);
  }
  *memfd_size += len;
  return 0;
}

static int mode_is_cache(int argc, char **argv) {
  const char *m = arg(argc, argv, "mode");
  if (!m || strcmp(m, "ram") == 0) return 0;
  if (strcmp(m, "cache") == 0) return 1;
  fail("bad mode=%s", m);
  return 0;
}

static int run_memfill(int argc, char **argv) {
  int cache = mode_is_cache(argc, argv);
  long long bytes = num(argc, argv, "bytes", -1, 1, (long long)1 << 50);
  if (bytes < 0) fail("memfill needs bytes=");
  prctl(PR_SET_NAME, cache ? "chaosmeta_cache" : "chaosmeta_mem");
  int memfd = -1;
  size_t have = 0;
  if (cache && (memfd = memfd_create("chaosmeta-cache", 0)) < 0) fail("memfd_create: %s", strerror(errno));
  /* in chunks, so a failure says how far it got */
  const size_t chunk = 64ull << 20;
  size_t done = 0;
  while (done < (size_t)bytes) {
    size_t len = (size_t)bytes - done < chunk ? (size_t)bytes - done : chunk;
    int rc = grab(cache, memfd, &have, len);
    if (rc != 0) fail("could allocate only %zu of %lld bytes: %s", done, bytes, strerror(-rc));
    done += len;
  }
  ready("memfill mode=%s bytes=%lld", cache ? "cache" : "ram", bytes);
  while (!expired()) sleep_s(1);
  return 0;
}

/* ---- append -------------------------------------------------------------------------- */

static int append_once(int fd, const char *buf, size_t len) {
  size_t off = 0;
  while (off < len) {
    ssize_t w = write(fd, buf + off, len - off);
    if (w < 0) { if (errno == EINTR) continue; return -errno; }
    off += (size_t)w;
  }
  fsync(fd);
  return 0;
}

/*
 * The file is opened once, without following a link, and must be the inode chaosmetad recorded (ino=): every
 * append goes to that file through this descriptor, so swapping the path for a link (to a secret, say) while we
 * run writes nothing through the link.
 */
static int run_append(int argc, char **argv) {
  const char *path = arg(argc, argv, "path");
  const char *src = arg(argc, argv, "src");
  const char *ino = arg(argc, argv, "ino");
  long long count = num(argc, argv, "count", 1, 1, 1000000000);
  long long interval_ms = num(argc, argv, "interval-ms", 1000, 0, 1ll << 40);
  if (!path || !src) fail("append needs path= and src=");
  prctl(PR_SET_NAME, "chaosmeta_append");
  int sfd = open(src, O_RDONLY | O_CLOEXEC);
  if (sfd < 0) fail("cannot read %s: %s", src, strerror(errno));
  static char buf[1 << 20];
  ssize_t len = read(sfd, buf, sizeof buf);
  close(sfd);
  if (len < 0) fail("cannot read %s: %s", src, strerror(errno));
  int fd = open(path, O_WRONLY | O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) fail("cannot open %s: %s", path, errno == ELOOP ? "it is a symbolic link" : strerror(errno));
  struct stat st;
  if (fstat(fd, &st) != 0) fail("cannot stat %s: %s", path, strerror(errno));
  if (!S_ISREG(st.st_mode)) fail("%s is not a regular file", path);
  if (ino && strtoull(ino, NULL, 10) != (unsigned long long)st.st_ino) fail("%s is no longer the file chaosmetad checked (inode %llu, not %s)", path, (unsigned long long)st.st_ino, ino);
  int rc = append_once(fd, buf, (size_t)len);
  if (rc) fail("cannot append to %s: %s", path, strerror(-rc));
  ready("append count=%lld", count);
  for (long long i = 1; i < count && !expired(); i++) {
    sleep_s(interval_ms / 1000.0);
    rc = append_once(fd, buf, (size_t)len);
    if (rc != 0) { fprintf(stderr, "append to %s failed after %lld of %lld: %s\n", path, i, count, strerror(-rc)); return 1; }
  }
  close(fd);
  return 0;
}

/* ---- diskio -------------------------------------------------------------------------- */

/* Sustained direct I/O on one file: write (or read) `block` bytes at a time over `size` bytes, round and round. */
static int run_diskio(int argc, char **argv) {
  const char *path = arg(argc, argv, "file");
  const char *m = arg(argc, argv, "mode");
  long long block = num(argc, argv, "block", 10 << 20, 4096, 1ll << 30);
  long long size = num(argc, argv, "size", 256 << 20, 4096, 1ll << 50);
  if (!path || !m) fail("diskio needs file= and mode=");
  int writing = strcmp(m, "write") == 0;
  if (!writing && strcmp(m, "read") != 0) fail("bad mode=%s", m);
  prctl(PR_SET_NAME, writing ? "chaosmeta_iow" : "chaosmeta_ior");
  block = (block + 4095) / 4096 * 4096;
  if (size < block) size = block;
  size = size / block * block;
  void *buf;
  if (posix_memalign(&buf, 4096, (size_t)block) != 0) fail("out of memory for a %lld-byte block", block);
  memset(buf, 0x5a, (size_t)block);
  int direct = 1;
  /* a new file, created exclusively: a link or file planted at the name is refused, never written through */
  int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) fail("cannot create %s: %s", path, errno == EEXIST ? "something already exists at that name" : strerror(errno));
  /* direct I/O where the filesystem has it (tmpfs has not) */
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl | O_DIRECT) != 0) direct = 0;
  if (!writing) {
    /* the file to read must exist first */
    for (long long off = 0; off < size; off += block) {
      if (pwrite(fd, buf, (size_t)block, off) != block) fail("cannot prepare %s: %s", path, strerror(errno));
    }
    fsync(fd);
  }
  ready("diskio mode=%s block=%lld size=%lld direct=%d", m, block, size, direct);
  long long off = 0;
  for (unsigned long n = 0;; n++) {
    ssize_t r = writing ? pwrite(fd, buf, (size_t)block, off) : pread(fd, buf, (size_t)block, off);
    if (r < 0 && errno != EINTR) sleep_s(0.1); /* e.g. ENOSPC: keep trying, gently */
    off += block;
    if (off >= size) off = 0;
    if (!direct) {
      if (writing) fdatasync(fd);
      posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    }
    if ((n & 15) == 0 && expired()) break;
  }
  close(fd);
  unlink(path);
  return 0;
}

/* ---- fdfill: hold `count` open files (struct files, as fs.file-nr counts them), over several processes --- */

static int run_fdfill(int argc, char **argv) {
  long long count = num(argc, argv, "count", -1, 1, 100000000);
  if (count < 0) fail("fdfill needs count=");
  prctl(PR_SET_NAME, "chaosmeta_fd");
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  long long per = (long long)rl.rlim_cur - 32;
  if (per < 16) fail("RLIMIT_NOFILE too small (%llu)", (unsigned long long)rl.rlim_cur);
  long long done = 0;
  int pfd[2];
  if (pipe(pfd) != 0) fail("pipe: %s", strerror(errno));
  while (done < count) {
    long long share = count - done < per ? count - done : per;
    pid_t c = fork();
    if (c < 0) fail("fork after %lld files: %s", done, strerror(errno));
    if (c == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      close(pfd[0]);
      long long n = 0;
      int err = 0;
      for (; n < share; n++) if (open("/dev/null", O_RDONLY) < 0) { err = errno; break; }
      long long msg[2] = {n, err};
      if (write(pfd[1], msg, sizeof msg) < 0) _exit(1);
      close(pfd[1]);
      for (;;) pause();
    }
    long long msg[2];
    if (read(pfd[0], msg, sizeof msg) != sizeof msg) fail("worker died after %lld files", done);
    done += msg[0];
    if (msg[1]) { if (done == 0) fail("cannot open files: %s", strerror((int)msg[1])); break; }
  }
  ready("fdfill files=%lld", done);
  while (!expired()) sleep_s(1);
  return 0;
}

/* ---- nproc: as a user, fork until that user's RLIMIT_NPROC (or count) is reached ------------------ */

static volatile sig_atomic_t g_nproc_stop = 0;
static void on_nproc_term(int sig) { (void)sig; g_nproc_stop = 1; }

static int run_nproc(int argc, char **argv) {
  long long uid = num(argc, argv, "uid", -1, 1, 4294967294ll);
  long long gid = num(argc, argv, "gid", -1, 0, 4294967294ll);
  long long count = num(argc, argv, "count", 0, 0, 1000000);
  if (uid < 0 || gid < 0) fail("nproc needs uid= and gid=");
  prctl(PR_SET_NAME, "chaosmeta_nproc");
  if (setgroups(0, NULL) != 0 || setgid((gid_t)gid) != 0 || setuid((uid_t)uid) != 0) fail("cannot become uid %lld: %s", uid, strerror(errno));
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_nproc_term;
  sigaction(SIGTERM, &sa, NULL);
  long long n = 0;
  int err = 0;
  while (count == 0 || n < count) {
    pid_t c = fork();
    if (c < 0) { err = errno; break; }
    if (c == 0) {
      signal(SIGTERM, SIG_DFL);
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      for (;;) pause();
    }
    n++;
  }
  if (n == 0) fail("cannot fork as uid %lld: %s", uid, strerror(err));
  ready("nproc forked=%lld stop=%s", n, err ? strerror(err) : "count");
  while (!g_nproc_stop && !expired()) sleep_s(0.1);
  /* stop and reap the children ourselves: a zombie still counts against the user's RLIMIT_NPROC until reaped,
     and init may take its time */
  signal(SIGTERM, SIG_IGN);
  kill(0, SIGTERM);
  while (waitpid(-1, NULL, 0) > 0 || errno == EINTR) {}
  return 0;
}

/* ---- occupy: hold a port ---------------------------------------------------------------- */

static int run_occupy(int argc, char **argv) {
  long long port = num(argc, argv, "port", -1, 1, 65535);
  const char *proto = arg(argc, argv, "proto");
  long long retry_ms = num(argc, argv, "retry-ms", 0, 0, 60000);
  if (port < 0 || !proto) fail("occupy needs port= and proto=");
  int v6 = strstr(proto, "6") != NULL;
  int udp = strncmp(proto, "udp", 3) == 0;
  prctl(PR_SET_NAME, "chaosmeta_port");
  int fd = socket(v6 ? AF_INET6 : AF_INET, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
  if (fd < 0) fail("socket: %s", strerror(errno));
  if (v6) { int one = 1; setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one); }
  int rc = -1;
  for (long long waited = 0;; waited += 50) {
    if (v6) {
      struct sockaddr_in6 a6;
      memset(&a6, 0, sizeof a6);
      a6.sin6_family = AF_INET6;
      a6.sin6_port = htons((unsigned short)port);
      a6.sin6_addr = in6addr_any;
      rc = bind(fd, (struct sockaddr *)&a6, sizeof a6);
    } else {
      struct sockaddr_in a4;
      memset(&a4, 0, sizeof a4);
      a4.sin_family = AF_INET;
      a4.sin_port = htons((unsigned short)port);
      a4.sin_addr.s_addr = htonl(INADDR_ANY);
      rc = bind(fd, (struct sockaddr *)&a4, sizeof a4);
    }
    if (rc == 0 || errno != EADDRINUSE || waited >= retry_ms) break;
    sleep_s(0.05); /* the killed owner may still be closing */
  }
  if (rc != 0) fail("cannot bind %s port %lld: %s", proto, port, strerror(errno));
  if (!udp && listen(fd, 1) != 0) fail("listen: %s", strerror(errno));
  ready("occupy %s port=%lld", proto, port);
  while (!expired()) sleep_s(1);
  return 0;
}

static volatile sig_atomic_t g_stop = 0;
static void on_term(int sig) { (void)sig; g_stop = 1; }

static int run_oom(int argc, char **argv) {
  int cache = mode_is_cache(argc, argv);
  prctl(PR_SET_NAME, "chaosmeta_oom");
  /* the supervisor must survive the OOM killer; its child is the one meant to die */
  write_file("/proc/self/oom_score_adj", "-1000");
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_term;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  ready("oom mode=%s", cache ? "cache" : "ram");
  long kills = 0;
  while (!g_stop && !expired()) {
    pid_t child = fork();
    if (child < 0) { sleep_s(1); continue; }
    if (child == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      prctl(PR_SET_NAME, "chaosmeta_oomf");
      write_file("/proc/self/oom_score_adj", "1000");
      signal(SIGTERM, SIG_DFL);
      signal(SIGINT, SIG_DFL);
      int memfd = -1;
      size_t have = 0;
      if (cache) memfd = memfd_create("chaosmeta-oom", 0);
      for (;;) {
        if (grab(cache, memfd, &have, 16ull << 20) != 0) sleep_s(0.05);
      }
    }
    int status = 0;
    while (waitpid(child, &status, 0) < 0) {
      if (errno != EINTR) break;
      if (g_stop || expired()) kill(child, SIGKILL);
    }
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL && !g_stop) kills++;
    if (!g_stop) sleep_s(0.5);
  }
  (void)kills;
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: chaosmetad-helper burn|load|memfill|oom --chaosmetad-uid=UID key=value...\n");
    return 2;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  g_deadline_ms = num(argc, argv, "deadline", 0, 0, 1ll << 50);
  g_grace_ms = num(argc, argv, "grace", 2000, 0, 1ll << 40);
  signal(SIGPIPE, SIG_IGN);
  if (strcmp(argv[1], "burn") == 0) return run_burn(argc, argv);
  if (strcmp(argv[1], "load") == 0) return run_load(argc, argv);
  if (strcmp(argv[1], "memfill") == 0) return run_memfill(argc, argv);
  if (strcmp(argv[1], "oom") == 0) return run_oom(argc, argv);
  if (strcmp(argv[1], "append") == 0) return run_append(argc, argv);
  if (strcmp(argv[1], "diskio") == 0) return run_diskio(argc, argv);
  if (strcmp(argv[1], "fdfill") == 0) return run_fdfill(argc, argv);
  if (strcmp(argv[1], "nproc") == 0) return run_nproc(argc, argv);
  if (strcmp(argv[1], "occupy") == 0) return run_occupy(argc, argv);
  fail("unknown mode %s", argv[1]);
  return 2;
}
