/* Enter a container before ready: its net or mount namespace (setns) and its cgroups (see common.h). */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* field 22 of /proc/PID/stat: the start time in clock ticks, with the pid a process's identity */
static long long start_of(long long pid) {
  char path[64], buf[4096];
  snprintf(path, sizeof path, "/proc/%lld/stat", pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return -1;
  buf[n] = 0;
  char *p = strrchr(buf, ')');
  if (!p) return -1;
  p += 2; /* the state field: field 3 */
  for (int field = 3; field < 22; field++) {
    p = strchr(p, ' ');
    if (!p) return -1;
    p++;
  }
  return strtoll(p, NULL, 10);
}

/* Does the comma list `opts` hold every name of the comma list `want`? */
static int has_all(const char *opts, const char *want) {
  char w[256];
  snprintf(w, sizeof w, "%s", want);
  for (char *save = NULL, *tok = strtok_r(w, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    size_t len = strlen(tok);
    const char *p = opts;
    int found = 0;
    while ((p = strstr(p, tok))) {
      if ((p == opts || p[-1] == ',') && (p[len] == ',' || p[len] == 0)) {
        found = 1;
        break;
      }
      p += len;
    }
    if (!found) return 0;
  }
  return 1;
}

/* Where this host mounted the hierarchy with these controllers ("" = the v2 unified one); 0 when it did not. */
static int mount_of(const char *controllers, char *out, size_t size) {
  FILE *f = fopen("/proc/self/mountinfo", "re");
  if (!f) fail("cannot read /proc/self/mountinfo: %s", strerror(errno));
  char line[4096];
  int found = 0;
  while (!found && fgets(line, sizeof line, f)) {
    /* id parent major:minor root mountpoint opts [optional…] - fstype source superopts */
    char *sep = strstr(line, " - ");
    if (!sep) continue;
    char root[1024], point[1024], fstype[64], source[256], super[1024] = "";
    if (sscanf(line, "%*s %*s %*s %1023s %1023s", root, point) != 2) continue;
    if (sscanf(sep + 3, "%63s %255s %1023s", fstype, source, super) < 2) continue;
    if (strcmp(root, "/") != 0) continue; /* a bind mount of a sub-tree: not the hierarchy's root */
    if (controllers[0] == 0 ? strcmp(fstype, "cgroup2") == 0
                            : strcmp(fstype, "cgroup") == 0 && has_all(super, controllers)) {
      snprintf(out, size, "%s", point);
      found = 1;
    }
  }
  fclose(f);
  return found;
}

/* Join every cgroup of pid found on this host (in each hierarchy mounted here); 0, or -1 with why in err. */
static int join_cgroups_of(long long pid, char *err, size_t errlen) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%lld/cgroup", pid);
  FILE *f = fopen(path, "re");
  if (!f) {
    snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
    return -1;
  }
  char line[4096];
  int joined = 0, rc = 0;
  while (rc == 0 && fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = 0;
    char *c1 = strchr(line, ':');
    char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (!c2) continue;
    *c1 = *c2 = 0;
    const char *controllers = c1 + 1, *rel = c2 + 1;
    if (strstr(rel, "..")) {
      snprintf(err, errlen, "refusing cgroup path %s of pid %lld", rel, pid);
      rc = -1;
      break;
    }
    char mnt[1024], procs[4096];
    if (!mount_of(controllers, mnt, sizeof mnt)) continue; /* a hierarchy this host does not mount (e.g. named) */
    snprintf(procs, sizeof procs, "%s%s/cgroup.procs", mnt, rel);
    int w = write_file(procs, "0");
    if (w != 0) {
      snprintf(err, errlen, "cannot join the cgroup %s%s: %s", mnt, rel, strerror(-w));
      rc = -1;
      break;
    }
    joined++;
  }
  fclose(f);
  if (rc == 0 && !joined) {
    snprintf(err, errlen, "found none of the cgroups of pid %lld on this host", pid);
    rc = -1;
  }
  return rc;
}

static void join_cgroups(long long pid) {
  char err[1200];
  if (join_cgroups_of(pid, err, sizeof err) != 0) fail("%s", err);
}

void enter_target(int argc, char **argv) {
  long long pid = num(argc, argv, "target_pid", 0, 1, 1ll << 31);
  if (!pid) return; /* the host */
  long long start = num(argc, argv, "target_start", -1, 0, 1ll << 62);
  if (start < 0) fail("target_pid= needs target_start=");
  if (start_of(pid) != start) fail("the container's init process %lld is gone (it stopped or restarted)", pid);
  const char *ns = arg(argc, argv, "ns");
  int mnt_fd = -1;
  if (ns) {
    /* net: the helper's sockets and traffic are the container's; mnt: its paths resolve in the container's
       filesystem (its root and cwd become the container's), entered last: the cgroups are joined through the
       host's /sys/fs/cgroup and the start time read from the host's /proc before */
    int is_net = strcmp(ns, "net") == 0, is_mnt = strcmp(ns, "mnt") == 0;
    if (!is_net && !is_mnt) fail("ns=%s: a helper enters net or mnt only", ns);
    char p[64];
    snprintf(p, sizeof p, "/proc/%lld/ns/%s", pid, ns);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail("cannot open %s: %s", p, strerror(errno));
    if (is_net) {
      if (setns(fd, CLONE_NEWNET) != 0) fail("cannot enter the net namespace of %lld: %s", pid, strerror(errno));
      close(fd);
    } else {
      mnt_fd = fd;
    }
  }
  if (num(argc, argv, "cgroup", 0, 0, 1)) join_cgroups(pid);
  /* the same process still, after all that: not one that reused its pid meanwhile (so the namespace descriptors
     opened above were the container's) */
  if (start_of(pid) != start) fail("the container's init process %lld is gone (it stopped or restarted)", pid);
  if (mnt_fd >= 0) {
    if (setns(mnt_fd, CLONE_NEWNS) != 0) fail("cannot enter the mount namespace of %lld: %s", pid, strerror(errno));
    close(mnt_fd);
    if (chdir("/") != 0) fail("chdir / in the container: %s", strerror(errno));
  }
}

/*
 * hostexec PID PROGRAM [ARG...]: enter the cgroup, uts and mount namespaces and the cgroups of PID (the node's init, or the process an agent
 * is told to take as the node's) and exec PROGRAM there, as `nsenter -t PID -m -u` would — without needing nsenter
 * in the agent's image. Exit 125 when it cannot enter, 126/127 when PROGRAM cannot run.
 */
int run_hostexec(int argc, char **argv) {
  /* --keep-cgroups: stay in the pod's cgroups (the agent's own daemon: it lives and dies with its pod) */
  int keep = argc > 2 && strcmp(argv[2], "--keep-cgroups") == 0;
  if (keep) {
    argv++;
    argc--;
  }
  if (argc < 4) {
    fprintf(stderr, "usage: chaosmetad-helper hostexec [--keep-cgroups] PID PROGRAM [ARG...]\n");
    return 125;
  }
  char *end = NULL;
  long long pid = strtoll(argv[2], &end, 10);
  if (!end || *end || pid < 1) {
    fprintf(stderr, "chaosmetad-helper hostexec: bad pid %s\n", argv[2]);
    return 125;
  }
  static const struct {
    const char *name;
    int type;
  } NS[] = {{"cgroup", CLONE_NEWCGROUP}, {"uts", CLONE_NEWUTS}, {"mnt", CLONE_NEWNS}};
  int fds[3];
  for (int i = 0; i < 3; i++) {
    char p[64];
    snprintf(p, sizeof p, "/proc/%lld/ns/%s", pid, NS[i].name);
    fds[i] = open(p, O_RDONLY | O_CLOEXEC);
    if (fds[i] < 0) {
      fprintf(stderr, "chaosmetad-helper hostexec: cannot open %s: %s\n", p, strerror(errno));
      return 125;
    }
  }
  for (int i = 0; i < 3; i++) {
    if (setns(fds[i], NS[i].type) != 0) {
      fprintf(stderr, "chaosmetad-helper hostexec: cannot enter the %s namespace of %lld: %s\n", NS[i].name, pid,
              strerror(errno));
      return 125;
    }
    close(fds[i]);
  }
  if (chdir("/") != 0) {
    fprintf(stderr, "chaosmetad-helper hostexec: chdir /: %s\n", strerror(errno));
    return 125;
  }
  /* out of the agent pod's cgroups into the node's (those of PID): what runs on the node — helpers, watchers —
     is neither limited by the pod's resources nor killed with it when the pod restarts. Read after entering the
     node's cgroup and mount namespaces: its paths and its /sys/fs/cgroup */
  char err[1200];
  if (!keep && join_cgroups_of(pid, err, sizeof err) != 0) {
    fprintf(stderr, "chaosmetad-helper hostexec: %s\n", err);
    return 125;
  }
  execv(argv[3], argv + 3);
  int e = errno;
  fprintf(stderr, "chaosmetad-helper hostexec: cannot run %s on the node: %s\n", argv[3], strerror(e));
  return e == ENOENT ? 127 : 126;
}
