/*
 * jattach: HotSpot's dynamic attach, without a JDK. Used by chaosmetad's JVM faults (not a fault helper: a one-shot
 * command like hostexec).
 *
 *   chaosmetad-helper jattach PID NSPID UID GID JAR OPTIONS
 *
 * PID is the JVM as this host sees it, NSPID as it sees itself (different inside a container's pid namespace).
 * Its root, working directory and /tmp are opened first, as descriptors: /proc/PID/root and /proc/PID/cwd (the
 * JVM's own), then tmp inside that root (openat2 RESOLVE_IN_ROOT: a link there resolves inside the JVM's root, never
 * on this host's; without openat2 a link is refused). Then everything is done as the JVM's uid and gid (older JVMs
 * accept only their own user on the socket), through those descriptors only: when the JVM has no attach socket yet
 * (.java_pid<NSPID> in its /tmp, a socket of its user's), the trigger file .attach_pid<NSPID> is created in its
 * working directory (where its user may create files; else in its /tmp) and SIGQUIT asks it to start listening;
 * the trigger is removed through the same descriptor. The socket's peer must be the JVM itself (SO_PEERCRED: its
 * pid and uid). It sends `load instrument false JAR=OPTIONS` (protocol 1: four NUL-terminated strings after the
 * version) and prints the JVM's reply (at most 64 KiB): the result code on the first line.
 * Exit: 0 the reply was read (its code may still say the load failed), 2 no attach socket appeared (attach
 * disabled, or not HotSpot), 3 cannot connect (or the socket is not the JVM's), 4 I/O, 5 bad arguments.
 */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* the JVM's attach socket, in the current directory (its /tmp): a socket (not a link to one) of the JVM's user */
/* SIGQUIT through the pidfd (the process held at the start), or by pid where the kernel has no pidfds */
static int quit(int pidfd, long pid) {
  if (pidfd >= 0) return (int)syscall(SYS_pidfd_send_signal, pidfd, SIGQUIT, NULL, 0);
  return kill((pid_t)pid, SIGQUIT);
}

static int socket_exists(const char *name, uid_t uid) {
  struct stat st;
  return fstatat(AT_FDCWD, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISSOCK(st.st_mode) && st.st_uid == uid;
}

/* dir (a path without links, e.g. "tmp") inside the directory root, as a process whose root that is would see it */
static int open_in_root(int root, const char *dir) {
#ifdef SYS_openat2
  struct open_how how;
  memset(&how, 0, sizeof how);
  how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  int fd = (int)syscall(SYS_openat2, root, dir, &how, sizeof how);
  if (fd >= 0 || (errno != ENOSYS && errno != EINVAL && errno != EPERM)) return fd;
#endif
  /* no openat2 (or filtered by seccomp): no link followed at all */
  return openat(root, dir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
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
  /* the JVM's root and working directory (its own, through their magic links: opened as root, once) and its /tmp
     inside that root: from here on only these descriptors are used, never a path through /proc again */
  /* the process itself, held before its directories are opened: SIGQUIT goes to this very process, never to one
     that reused the pid after it exited (the root retry below signals as root) */
  int pidfd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
  if (pidfd < 0 && errno != ENOSYS) {
    fprintf(stderr, "jattach: no process %ld: %s\n", pid, strerror(errno));
    return 4;
  }
  char p[64];
  snprintf(p, sizeof p, "/proc/%ld/root", pid);
  int rootfd = open(p, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0) {
    fprintf(stderr, "jattach: cannot open the JVM's root %s: %s\n", p, strerror(errno));
    return 4;
  }
  snprintf(p, sizeof p, "/proc/%ld/cwd", pid);
  int cwdfd = open(p, O_PATH | O_DIRECTORY | O_CLOEXEC); /* none: the trigger goes in /tmp */
  int tmpfd = open_in_root(rootfd, "tmp");
  if (tmpfd < 0) {
    fprintf(stderr, "jattach: cannot open the JVM's /tmp (in /proc/%ld/root): %s\n", pid, strerror(errno));
    return 4;
  }
  close(rootfd);
  /* as the JVM's user from here (HotSpot checks the peer's credentials, JDK 8: its own uid and gid only; and
     nothing is created as root in a directory that user chose). The saved uid stays root's only until the signal
     is sent: a JVM whose real uid is not its effective one may need root's signal */
  int dropped = 0;
  if (getuid() != uid || getgid() != gid) {
    if (setgroups(0, NULL) != 0 || setresgid(gid, gid, gid) != 0 || setresuid(uid, uid, 0) != 0) {
      fprintf(stderr, "jattach: cannot become uid %u gid %u: %s\n", (unsigned)uid, (unsigned)gid, strerror(errno));
      return 3;
    }
    dropped = 1;
  }
  if (fchdir(tmpfd) != 0) {
    fprintf(stderr, "jattach: cannot enter the JVM's /tmp: %s\n", strerror(errno));
    return 4;
  }
  char sock[64];
  snprintf(sock, sizeof sock, ".java_pid%ld", nspid);
  if (!socket_exists(sock, uid)) {
    /* the trigger file, created as the JVM's user in its working directory (else its /tmp) */
    char trigger[64];
    snprintf(trigger, sizeof trigger, ".attach_pid%ld", nspid);
    int where = cwdfd, fd = -1;
    if (cwdfd >= 0) fd = openat(cwdfd, trigger, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
      where = tmpfd;
      fd = openat(tmpfd, trigger, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    }
    if (fd < 0) {
      fprintf(stderr, "jattach: cannot create the attach trigger file: %s\n", strerror(errno));
      return 4;
    }
    close(fd);
    int k = quit(pidfd, pid);
    if (k != 0 && errno == EPERM && dropped && seteuid(0) == 0) {
      k = quit(pidfd, pid);
      if (seteuid(uid) != 0) _exit(3);
    }
    if (k != 0) {
      fprintf(stderr, "jattach: cannot signal %ld: %s\n", pid, strerror(errno));
      unlinkat(where, trigger, 0);
      return 4;
    }
    for (int i = 0; i < 300 && !socket_exists(sock, uid); i++) msleep(20); /* 6 s */
    unlinkat(where, trigger, 0);
    if (!socket_exists(sock, uid)) {
      fprintf(stderr, "jattach: the JVM did not open its attach socket /tmp/%s within 6 s\n", sock);
      return 2;
    }
  }
  if (cwdfd >= 0) close(cwdfd);
  close(tmpfd);
  if (dropped && setresuid(uid, uid, uid) != 0) {
    fprintf(stderr, "jattach: cannot become uid %u: %s\n", (unsigned)uid, strerror(errno));
    return 3;
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
  /* the one listening is the JVM itself: its pid (as this host sees it) and its user */
  struct ucred cred;
  socklen_t clen = sizeof cred;
  if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &cred, &clen) != 0 || cred.pid != (pid_t)pid || cred.uid != uid) {
    fprintf(stderr, "jattach: the attach socket /tmp/%s is not the JVM's (its peer is pid %ld uid %ld)\n", sock,
            (long)cred.pid, (long)cred.uid);
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
  size_t total = 0;
  for (;;) {
    ssize_t r = read(s, buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      fprintf(stderr, "jattach: reading the reply: %s\n", strerror(errno));
      return 4;
    }
    if (r == 0) break;
    if ((total += (size_t)r) > 65536) {
      fprintf(stderr, "jattach: the JVM's reply is longer than 64 KiB\n");
      return 4;
    }
    if (write_all(1, buf, (size_t)r)) return 4;
  }
  close(s);
  return 0;
}
