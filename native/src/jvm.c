/*
 * jattach: HotSpot's dynamic attach, without a JDK. Used by chaosmetad's JVM faults (not a fault helper: a one-shot
 * command like hostexec).
 *
 *   chaosmetad-helper jattach PID NSPID UID GID JAR OPTIONS
 *
 * PID is the JVM as this host sees it, NSPID as it sees itself (different inside a container's pid namespace).
 * Its /tmp is reached through /proc/PID/root (a container's own). When the JVM has no attach socket yet
 * (/tmp/.java_pid<NSPID>), the trigger file .attach_pid<NSPID> is made in its working directory (or /tmp), owned by
 * its user, and SIGQUIT asks it to start listening. Then, as the JVM's uid and gid (older JVMs accept only their own
 * user on the socket), it connects and sends `load instrument false JAR=OPTIONS` (protocol 1: four
 * NUL-terminated strings after the version) and prints the JVM's reply: the result code on the first line.
 * Exit: 0 the reply was read (its code may still say the load failed), 2 no attach socket appeared (attach
 * disabled, or not HotSpot), 3 cannot connect, 4 I/O, 5 bad arguments.
 */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static int socket_exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

static void msleep(int ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static int write_all(int fd, const char *buf, size_t len) {
  while (len) {
    ssize_t w = write(fd, buf, len);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    buf += w;
    len -= (size_t)w;
  }
  return 0;
}

int run_jattach(int argc, char **argv) {
  if (argc != 8) {
    fprintf(stderr, "usage: chaosmetad-helper jattach PID NSPID UID GID JAR OPTIONS\n");
    return 5;
  }
  /* dies with chaosmetad: an inject killed mid-attach never has its command arrive after the recover's (the JVM
     serves attach connections one at a time, so one already sent is done before the next) */
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) {
    fprintf(stderr, "jattach: prctl: %s\n", strerror(errno));
    return 4;
  }
  long pid = strtol(argv[2], NULL, 10), nspid = strtol(argv[3], NULL, 10);
  uid_t uid = (uid_t)strtol(argv[4], NULL, 10);
  gid_t gid = (gid_t)strtol(argv[5], NULL, 10);
  const char *jar = argv[6], *opts = argv[7];
  if (pid < 1 || nspid < 1) {
    fprintf(stderr, "jattach: bad pid\n");
    return 5;
  }
  /* the JVM's /tmp, as this host reaches it; worked in from there (the socket's path is short, relative) */
  char tmp[64];
  snprintf(tmp, sizeof tmp, "/proc/%ld/root/tmp", pid);
  /* a link there would be followed from this host's root, not the JVM's: refused */
  struct stat tst;
  if (lstat(tmp, &tst) != 0 || !S_ISDIR(tst.st_mode)) {
    fprintf(stderr, "jattach: the JVM's /tmp is not a directory (or is a link): %s\n", tmp);
    return 4;
  }
  if (chdir(tmp) != 0) {
    fprintf(stderr, "jattach: cannot enter the JVM's /tmp (%s): %s\n", tmp, strerror(errno));
    return 4;
  }
  char sock[64];
  snprintf(sock, sizeof sock, ".java_pid%ld", nspid);
  char trigger[128] = "";
  if (!socket_exists(sock)) {
    /* the trigger file, in the JVM's working directory (else its /tmp), owned by the JVM's user */
    snprintf(trigger, sizeof trigger, "/proc/%ld/cwd/.attach_pid%ld", pid, nspid);
    int fd = open(trigger, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
      snprintf(trigger, sizeof trigger, ".attach_pid%ld", nspid);
      fd = open(trigger, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    }
    if (fd < 0) {
      fprintf(stderr, "jattach: cannot create the attach trigger file: %s\n", strerror(errno));
      return 4;
    }
    if (fchown(fd, uid, gid) != 0) { /* a JVM of root's: fine as it is */
    }
    close(fd);
    if (kill((pid_t)pid, SIGQUIT) != 0) {
      fprintf(stderr, "jattach: cannot signal %ld: %s\n", pid, strerror(errno));
      unlink(trigger);
      return 4;
    }
    for (int i = 0; i < 300 && !socket_exists(sock); i++) msleep(20); /* 6 s */
    unlink(trigger);
    if (!socket_exists(sock)) {
      fprintf(stderr, "jattach: the JVM did not open its attach socket /tmp/%s within 6 s\n", sock);
      return 2;
    }
  }
  /* as the JVM's user: HotSpot checks the peer's credentials (JDK 8: its own uid and gid only) */
  if (getuid() != uid || getgid() != gid) {
    if (setgroups(0, NULL) != 0 || setresgid(gid, gid, gid) != 0 || setresuid(uid, uid, uid) != 0) {
      fprintf(stderr, "jattach: cannot become uid %u gid %u: %s\n", (unsigned)uid, (unsigned)gid, strerror(errno));
      return 3;
    }
  }
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  snprintf(addr.sun_path, sizeof addr.sun_path, "%s", sock);
  if (s < 0 || connect(s, (struct sockaddr *)&addr, sizeof addr) != 0) {
    fprintf(stderr, "jattach: cannot connect to the JVM's attach socket: %s\n", strerror(errno));
    return 3;
  }
  char arg[8192];
  int n = snprintf(arg, sizeof arg, "%s=%s", jar, opts);
  if (n < 0 || (size_t)n >= sizeof arg) {
    fprintf(stderr, "jattach: arguments too long\n");
    return 5;
  }
  /* protocol version, command, then exactly three arguments */
  if (write_all(s, "1", 2) || write_all(s, "load", 5) || write_all(s, "instrument", 11) || write_all(s, "false", 6) ||
      write_all(s, arg, (size_t)n + 1)) {
    fprintf(stderr, "jattach: cannot send the command: %s\n", strerror(errno));
    return 4;
  }
  char buf[4096];
  for (;;) {
    ssize_t r = read(s, buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      fprintf(stderr, "jattach: reading the reply: %s\n", strerror(errno));
      return 4;
    }
    if (r == 0) break;
    if (write_all(1, buf, (size_t)r)) return 4;
  }
  close(s);
  return 0;
}
