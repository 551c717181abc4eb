/* Kernel-limit helpers: fdfill (hold N open files over as many processes as RLIMIT_NOFILE needs) and nproc (as a
   user, fork until that user's RLIMIT_NPROC, or N children). */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

int run_fdfill(int argc, char **argv) {
  long long count = num(argc, argv, "count", -1, 1, 100000000);
  if (count < 0) fail("fdfill needs count=");
  if (prctl(PR_SET_NAME, "chaosmeta_fd") != 0) fail("prctl: %s", strerror(errno));
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) fail("getrlimit: %s", strerror(errno));
  rl.rlim_cur = rl.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &rl) != 0) fail("setrlimit: %s", strerror(errno));
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
      if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) _exit(1);
      close(pfd[0]);
      long long n = 0;
      int err = 0;
      for (; n < share; n++)
        if (open("/dev/null", O_RDONLY) < 0) {
          err = errno;
          break;
        }
      long long msg[2] = {n, err};
      if (write(pfd[1], msg, sizeof msg) != sizeof msg) _exit(1);
      close(pfd[1]);
      for (;;) pause();
    }
    long long msg[2];
    if (read(pfd[0], msg, sizeof msg) != sizeof msg) fail("worker died after %lld files", done);
    done += msg[0];
    if (msg[1]) {
      if (done == 0) fail("cannot open files: %s", strerror((int)msg[1]));
      break;
    }
  }
  ready("fdfill files=%lld", done);
  while (!expired()) sleep_s(1);
  return 0;
}

int run_nproc(int argc, char **argv) {
  long long uid = num(argc, argv, "uid", -1, 1, 4294967294ll);
  long long gid = num(argc, argv, "gid", -1, 0, 4294967294ll);
  long long count = num(argc, argv, "count", 0, 0, 1000000);
  if (uid < 0 || gid < 0) fail("nproc needs uid= and gid=");
  if (prctl(PR_SET_NAME, "chaosmeta_nproc") != 0) fail("prctl: %s", strerror(errno));
  if (setgroups(0, NULL) != 0 || setgid((gid_t)gid) != 0 || setuid((uid_t)uid) != 0)
    fail("cannot become uid %lld: %s", uid, strerror(errno));
  catch_stop();
  long long n = 0;
  int err = 0;
  while (count == 0 || n < count) {
    /* a worker that has not yet reset its handlers when the stop comes would keep catch_stop()'s and never die,
       and the waitpid() below would wait for it forever: fork_worker() closes that window */
    pid_t c = fork_worker();
    if (c < 0) {
      err = errno;
      break;
    }
    if (c == 0)
      for (;;) pause();
    n++;
  }
  if (n == 0) fail("cannot fork as uid %lld: %s", uid, strerror(err));
  ready("nproc forked=%lld stop=%s", n, err ? strerror(err) : "count");
  while (!stop_requested() && !expired()) sleep_s(0.1);
  /* stop and reap the children ourselves: a zombie still counts against the user's RLIMIT_NPROC until reaped,
     and init may take its time */
  signal(SIGTERM, SIG_IGN);
  if (kill(0, SIGTERM) != 0) report("cannot stop the children: %s", strerror(errno));
  while (waitpid(-1, NULL, 0) > 0 || errno == EINTR) {}
  return 0;
}
