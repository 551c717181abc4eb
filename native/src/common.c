/* The shared part of chaosmetad-helper: see common.h. */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

static long long g_deadline_ms = 0;
static long long g_grace_ms = 2000;
static int g_ready = 0;
static const char *g_mode = "?";
static const char *g_uid = "";
static volatile sig_atomic_t g_stop = 0;
static int g_log_fd = -1;

const char *arg(int argc, char **argv, const char *key) {
  size_t n = strlen(key);
  for (int i = 2; i < argc; i++)
    if (strncmp(argv[i], key, n) == 0 && argv[i][n] == '=') return argv[i] + n + 1;
  return NULL;
}

long long num(int argc, char **argv, const char *key, long long def, long long lo, long long hi) {
  const char *v = arg(argc, argv, key);
  if (!v) return def;
  char *end;
  errno = 0;
  long long x = strtoll(v, &end, 10);
  if (errno || *end || end == v || x < lo || x > hi) fail("bad %s=%s", key, v);
  return x;
}

long long now_ms(void) {
  struct timespec ts;
  if (clock_gettime(CLOCK_REALTIME, &ts) != 0) return 0;
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double mono_s(void) {
  struct timespec ts;
  if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) return 0;
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

void sleep_s(double s) {
  if (s <= 0) return;
  struct timespec ts = {(time_t)s, (long)((s - (time_t)s) * 1e9)};
  while (nanosleep(&ts, &ts) == -1 && errno == EINTR && !g_stop) {}
}

void set_deadline(long long deadline_ms, long long grace_ms) {
  g_deadline_ms = deadline_ms;
  g_grace_ms = grace_ms;
}

int expired(void) { return g_deadline_ms > 0 && now_ms() > g_deadline_ms + g_grace_ms; }
int deadline_passed(void) { return g_deadline_ms > 0 && now_ms() >= g_deadline_ms; }

void fail(const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (g_ready) {
    report("%s (the helper stopped)", msg);
  } else {
    printf("error %s\n", msg);
    fflush(stdout);
  }
  exit(1);
}

/* JSON string body: quotes, backslashes and control characters escaped */
static void json_escape(char *out, size_t cap, const char *in) {
  size_t o = 0;
  for (; *in && o + 7 < cap; in++) {
    unsigned char c = (unsigned char)*in;
    if (c == '"' || c == '\\') { out[o++] = '\\'; out[o++] = (char)c; }
    else if (c < 0x20) o += (size_t)snprintf(out + o, cap - o, "\\u%04x", c);
    else out[o++] = (char)c;
  }
  out[o] = 0;
}

void report(const char *fmt, ...) {
  char msg[1024], esc[2048], uid[256], when[40];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  json_escape(esc, sizeof esc, msg);
  json_escape(uid, sizeof uid, g_uid);
  long long ms = now_ms();
  time_t secs = (time_t)(ms / 1000);
  struct tm tm;
  if (!gmtime_r(&secs, &tm) || !strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm)) snprintf(when, sizeof when, "?");
  char line[4096];
  int n = snprintf(line, sizeof line,
                   "{\"time\":\"%s.%03lldZ\",\"pid\":%d,\"uid\":\"%s\",\"event\":\"helper-error\",\"helper\":\"%s\","
                   "\"error\":\"%s\"}\n",
                   when, ms % 1000, (int)getpid(), uid, g_mode, esc);
  if (n <= 0) return;
  if ((size_t)n >= sizeof line) n = (int)sizeof line - 1;
  /* stderr: the experiment log after ready, chaosmetad's pipe before it; nothing more to do if that fails */
  if (write(2, line, (size_t)n) < 0) {}
}

void ready(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  printf("ready ");
  vprintf(fmt, ap);
  printf("\n");
  va_end(ap);
  fflush(stdout);
  g_ready = 1;
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null < 0) return; /* keep the pipes: chaosmetad has stopped reading them, writes just fail */
  if (dup2(null, 0) < 0 || dup2(null, 1) < 0) report("cannot detach stdin/stdout: %s", strerror(errno));
  if (dup2(g_log_fd >= 0 ? g_log_fd : null, 2) < 0) {}
  if (g_log_fd > 2) close(g_log_fd);
  g_log_fd = -1;
  if (null > 2) close(null);
}

int write_file(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return -errno;
  size_t len = strlen(text);
  ssize_t w = write(fd, text, len);
  int err = w < 0 ? errno : (size_t)w != len ? EIO : 0;
  if (close(fd) != 0 && !err) err = errno;
  return -err;
}

static void on_stop(int sig) {
  (void)sig;
  g_stop = 1;
}

void catch_stop(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_stop;
  if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0) fail("sigaction: %s", strerror(errno));
}

int stop_requested(void) { return g_stop; }

pid_t fork_worker(void) {
  sigset_t stops, old;
  sigemptyset(&stops);
  sigaddset(&stops, SIGTERM);
  sigaddset(&stops, SIGINT);
  if (sigprocmask(SIG_BLOCK, &stops, &old) != 0) fail("sigprocmask: %s", strerror(errno));
  pid_t c = fork();
  if (c == 0) {
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) _exit(1);
    /* a stop sent meanwhile is pending: it acts now, with the default action */
    if (sigprocmask(SIG_SETMASK, &old, NULL) != 0) _exit(1);
    return 0;
  }
  int saved = errno;
  if (sigprocmask(SIG_SETMASK, &old, NULL) != 0) fail("sigprocmask: %s", strerror(errno));
  errno = saved;
  return c;
}


void common_init(int argc, char **argv) {
  g_mode = argv[1];
  for (int i = 2; i < argc; i++)
    if (strncmp(argv[i], "--chaosmetad-uid=", 17) == 0) g_uid = argv[i] + 17;
  /* opened now, while still root (nproc drops to a user before ready): the log is chaosmetad's, in a data dir that
     is root's alone; appended to, never followed through a link */
  const char *logpath = arg(argc, argv, "log");
  if (logpath) {
    g_log_fd = open(logpath, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (g_log_fd < 0) fail("cannot open the experiment log %s: %s", logpath, strerror(errno));
  }
}
