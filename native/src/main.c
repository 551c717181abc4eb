/*
 * chaosmetad-helper: the small processes that hold a fault in place. One static multi-call binary:
 *
 *   chaosmetad-helper MODE --chaosmetad-uid=UID [--chaosmetad-step=N] [key=value ...]
 *
 * Common keys: deadline=EPOCH_MS (0 = none): the helper exits by itself once the deadline (plus grace=MS, default
 * 2000) has passed, so a fault never outlives a lost recover; log=PATH: the experiment log, where failures after
 * ready go (one JSON line each).
 * On success the helper writes one line "ready ..." to stdout; on failure before that, "error <reason>" and exits 1.
 * The uid tag in argv is how chaosmetad finds its helpers after a restart.
 * Sources: common.c (arguments, deadline, protocol, reports, stop), target.c (entering a container), one file per
 * family (cpu.c, mem.c, file.c, kernel.c, net.c); a new mode is one function there and one line in the table below.
 */
#include "common.h"

#include <stdio.h>
#include <string.h>

static const struct mode MODES[] = {
    {"burn", "core=N percent=P [self=1]  (hold core N's total utilisation, or self=1 its own use, at P %)", run_burn},
    {"load", "threads=N  (N runnable SCHED_IDLE threads: raise the load average)", run_load},
    {"memfill", "mode=ram|cache bytes=N  (hold N bytes resident: anonymous + mlock, or shared memory)", run_memfill},
    {"oom", "mode=ram|cache  (allocate until the OOM killer acts; again after each kill)", run_oom},
    {"append", "path=P src=F count=N interval-ms=I [ino=N]  (append F's bytes to P, N times, I ms apart)", run_append},
    {"diskio", "file=F mode=read|write block=B size=S  (sustained direct I/O on a new file F)", run_diskio},
    {"fdfill", "count=N  (hold N open files)", run_fdfill},
    {"nproc", "uid=U gid=G count=N  (become the user, fork until EAGAIN or N children)", run_nproc},
    {"occupy", "port=N proto=tcp|udp|tcp6|udp6 [retry-ms=M]  (hold a port)", run_occupy},
};
#define NMODES (sizeof MODES / sizeof MODES[0])

static int usage(void) {
  fprintf(stderr, "usage: chaosmetad-helper MODE --chaosmetad-uid=UID [deadline=EPOCH_MS] [log=PATH] key=value...\n");
  for (size_t i = 0; i < NMODES; i++) fprintf(stderr, "  %-8s %s\n", MODES[i].name, MODES[i].usage);
  fprintf(stderr, "  hostexec [--keep-cgroups] PID PROGRAM [ARG...]  (enter PID's cgroup, uts and mount namespaces and its cgroups, run PROGRAM: an agent "
                  "pod's way onto its node)\n");
  fprintf(stderr, "  jattach PID NSPID UID GID JAR OPTIONS  (HotSpot attach: load the Java agent JAR=OPTIONS)\n");
  fprintf(stderr, "  tree copy SRCDIRFD SRCNAME DSTDIRFD DSTNAME | tree rm DIRFD NAME  (a file tree, on descriptors only)\n");
  fprintf(stderr, "  any mode: target_pid=PID target_start=TICKS [ns=net|mnt] [cgroup=1] enters a container first\n");
  return 2;
}

int main(int argc, char **argv) {
  if (argc < 2) return usage();
  /* not a fault helper: a way into the node's mount namespace for the executable in an agent pod */
  if (strcmp(argv[1], "hostexec") == 0) return run_hostexec(argc, argv);
  /* nor this: HotSpot's dynamic attach, for the JVM faults */
  if (strcmp(argv[1], "jattach") == 0) return run_jattach(argc, argv);
  /* nor this: copy or remove a file tree on descriptors only, for the file faults */
  if (strcmp(argv[1], "tree") == 0) return run_tree(argc, argv);
  for (size_t i = 0; i < NMODES; i++) {
    if (strcmp(argv[1], MODES[i].name) != 0) continue;
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    common_init(argc, argv);
    set_deadline(num(argc, argv, "deadline", 0, 0, 1ll << 50), num(argc, argv, "grace", 2000, 0, 1ll << 40));
    enter_target(argc, argv);
    return MODES[i].run(argc, argv);
  }
  usage();
  fail("unknown mode %s", argv[1]);
}
