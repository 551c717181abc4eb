/*
 * What every helper mode shares: argument parsing, the deadline, the ready/fail protocol with chaosmetad, reports of
 * failures after ready (to the experiment log), stop signals, and the place where a helper will enter a target
 * (a container's namespaces and cgroup) before it reports ready.
 */
#ifndef CHAOSMETAD_HELPER_COMMON_H
#define CHAOSMETAD_HELPER_COMMON_H

#define _GNU_SOURCE
#include <sys/types.h>
#include <signal.h>
#include <stddef.h>

/* One mode of the multi-call binary: its name, its keys (for the usage line) and its entry point. */
struct mode {
  const char *name;
  const char *usage;
  int (*run)(int argc, char **argv);
};

/* The modes, defined in their family's file (burn.c, mem.c, file.c, kernel.c, net.c). */
int run_burn(int argc, char **argv);
int run_load(int argc, char **argv);
int run_memfill(int argc, char **argv);
int run_oom(int argc, char **argv);
int run_append(int argc, char **argv);
int run_diskio(int argc, char **argv);
int run_fdfill(int argc, char **argv);
int run_nproc(int argc, char **argv);
int run_occupy(int argc, char **argv);

/* the mode's name, the experiment uid (from the tag) and log=PATH, for reports */
void common_init(int argc, char **argv);

/* ---- arguments: key=value after MODE (argv[2...]) ---- */
const char *arg(int argc, char **argv, const char *key);
/* key as an integer in [lo, hi], def when absent; anything else fails before ready */
long long num(int argc, char **argv, const char *key, long long def, long long lo, long long hi);

/* ---- time and the deadline ---- */
long long now_ms(void);
double mono_s(void);
void sleep_s(double s);
/* the deadline (plus grace) has passed: the helper exits by itself, so a fault never outlives a lost recover */
int expired(void);
void set_deadline(long long deadline_ms, long long grace_ms);
/* the deadline itself has come (no grace): a long set-up (a fill) stops there instead of finishing late */
int deadline_passed(void);

/* ---- the protocol ---- */
/* before ready: write "error <reason>" on stdout and exit 1 (chaosmetad shows the reason, the inject fails);
   after ready: report it to the experiment log and exit 1 */
void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
/* write "ready <details>" on stdout; stdout then goes to /dev/null and stderr to the experiment log (log=PATH) */
void ready(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* after ready: one JSON line in the experiment log (never silent; before ready it fails instead) */
void report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* write text to a /proc or /sys file; returns 0 or -errno */
int write_file(const char *path, const char *text);

/* ---- stop signals ---- */
/* SIGTERM/SIGINT set stop_requested() instead of killing (for modes that clean up after themselves) */
void catch_stop(void);
int stop_requested(void);
/* fork a worker that dies of SIGTERM/SIGINT (default actions) and with its parent (PR_SET_PDEATHSIG SIGKILL), with no
   moment where a stop signal meant for it reaches catch_stop()'s handler instead: both are blocked across the fork
   and until the child has reset them. Returns fork()'s result. */
pid_t fork_worker(void);

/*
 * Enter the target before the mode runs (and so before ready), in target.c. Without target_pid= the target is the
 * host and this returns at once. With target_pid=PID target_start=TICKS (a container's init and its start time):
 * ns=net joins that process's net namespace (setns), cgroup=1 joins every cgroup it is in (v1 hierarchies and the
 * v2 unified one, found from /proc/PID/cgroup and this host's mounts), so the helper's CPU, memory and IO count
 * against the container. Any failure fails the helper before ready: a helper never runs outside its target.
 */
void enter_target(int argc, char **argv);
int run_hostexec(int argc, char **argv);
int run_jattach(int argc, char **argv);
int run_tree(int argc, char **argv);

#endif
