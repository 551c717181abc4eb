/* CPU helpers: burn (hold one core's total utilisation at P %) and load (runnable idle-priority threads). */
#include "common.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/prctl.h>

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

/* this process's own CPU time, in seconds */
static double own_cpu_s(void) {
  struct timespec t;
  if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t) != 0) return -1;
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* self=1 (a container's share): hold this helper's OWN CPU time at percent of the core, whatever else runs there;
   otherwise hold the core's TOTAL utilisation (as /proc/stat counts it) at percent */
int run_burn(int argc, char **argv) {
  int core = (int)num(argc, argv, "core", -1, 0, 4095);
  int percent = (int)num(argc, argv, "percent", -1, 1, 100);
  int self = (int)num(argc, argv, "self", 0, 0, 1);
  if (core < 0 || percent < 0) fail("burn needs core= and percent=");
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(core, &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0) fail("cannot pin to core %d: %s", core, strerror(errno));
  unsigned long long b0, t0;
  if (read_core(core, &b0, &t0) != 0) fail("core %d not in /proc/stat", core);
  double c0 = own_cpu_s(), w0 = mono_s();
  if (c0 < 0) fail("cannot read this process's CPU time: %s", strerror(errno));
  if (prctl(PR_SET_NAME, "chaosmeta_burn") != 0) fail("prctl: %s", strerror(errno));
  ready("burn core=%d percent=%d%s", core, percent, self ? " self" : "");

  const double period = 0.017; /* not a multiple of the tick, so sampling does not lock onto it */
  const double window = 0.5;   /* feedback from /proc/stat every half second */
  double own = percent;        /* our own duty cycle, in percent */
  double wstart = mono_s();
  int unreadable = 0;
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
      if (self) {
        double c1 = own_cpu_s(), w1 = mono_s();
        if (c1 >= 0 && w1 > w0) {
          own += 0.7 * (percent - 100.0 * (c1 - c0) / (w1 - w0));
          if (own < 0) own = 0;
          if (own > 100) own = 100;
          c0 = c1;
          w0 = w1;
        }
      } else if (read_core(core, &b1, &t1) == 0) {
        unreadable = 0;
        if (t1 > t0) {
          double measured = 100.0 * (double)(b1 - b0) / (double)(t1 - t0);
          own += 0.7 * (percent - measured);
          if (own < 0) own = 0;
          if (own > 100) own = 100;
          b0 = b1;
          t0 = t1;
        }
      } else if (unreadable++ == 0) {
        report("cannot read core %d in /proc/stat: burning at %.0f %% without feedback", core, own);
      }
      wstart = mono_s();
      if (expired()) return 0;
    }
  }
}

static void *spin(void *unused) {
  (void)unused;
  struct sched_param sp = {0};
  int rc = pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp);
  if (rc != 0) report("a load thread could not switch to SCHED_IDLE (it competes at normal priority): %s", strerror(rc));
  for (;;) {
    for (volatile int i = 0; i < 10000000; i++) {}
  }
  return NULL;
}

int run_load(int argc, char **argv) {
  int threads = (int)num(argc, argv, "threads", -1, 1, 100000);
  if (threads < 0) fail("load needs threads=");
  if (prctl(PR_SET_NAME, "chaosmeta_load") != 0) fail("prctl: %s", strerror(errno));
  /* we run in our own session, which the scheduler's autogroup feature treats as a group with a full share of
     its own: lower the group's weight too, or SCHED_IDLE inside it would not yield to the rest of the host
     (kernels without autogroup have no such file: nothing to lower) */
  int rc = write_file("/proc/self/autogroup", "19");
  if (rc != 0 && rc != -ENOENT) fail("cannot lower the autogroup's weight: %s", strerror(-rc));
  for (int i = 0; i < threads; i++) {
    pthread_t t;
    pthread_attr_t a;
    if (pthread_attr_init(&a) != 0) fail("pthread_attr_init");
    rc = pthread_attr_setstacksize(&a, 64 * 1024);
    if (!rc) rc = pthread_create(&t, &a, spin, NULL);
    pthread_attr_destroy(&a);
    if (rc != 0) fail("cannot start thread %d of %d: %s", i + 1, threads, strerror(rc));
  }
  ready("load threads=%d", threads);
  while (!expired()) sleep_s(1);
  return 0;
}
