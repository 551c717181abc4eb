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

static void join_cgroups(long long pid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%lld/cgroup", pid);
  FILE *f = fopen(path, "re");
  if (!f) fail("cannot read %s: %s", path, strerror(errno));
  char line[4096];
  int joined = 0;
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = 0;
    char *c1 = strchr(line, ':');
    char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (!c2) continue;
    *c1 = *c2 = 0;
    const char *controllers = c1 + 1, *rel = c2 + 1;
    if (strstr(rel, "..")) fail("refusing cgroup path %s of pid %lld", rel, pid);
    char mnt[1024], procs[4096];
    if (!mount_of(controllers, mnt, sizeof mnt)) continue; /* a hierarchy this host does not mount (e.g. named) */
    snprintf(procs, sizeof procs, "%s%s/cgroup.procs", mnt, rel);
    int rc = write_file(procs, "0");
    if (rc != 0) fail("cannot join the container's cgroup %s%s: %s", mnt, rel, strerror(-rc));
    joined++;
  }
  fclose(f);
  if (!joined) fail("found none of the cgroups of pid %lld on this host", pid);
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
