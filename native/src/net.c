/* Network helper: occupy (hold a port: bound, and listening for tcp). */
#include "common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>

int run_occupy(int argc, char **argv) {
  long long port = num(argc, argv, "port", -1, 1, 65535);
  const char *proto = arg(argc, argv, "proto");
  long long retry_ms = num(argc, argv, "retry-ms", 0, 0, 60000);
  if (port < 0 || !proto) fail("occupy needs port= and proto=");
  if (strcmp(proto, "tcp") && strcmp(proto, "udp") && strcmp(proto, "tcp6") && strcmp(proto, "udp6"))
    fail("bad proto=%s", proto);
  int v6 = strstr(proto, "6") != NULL;
  int udp = strncmp(proto, "udp", 3) == 0;
  if (prctl(PR_SET_NAME, "chaosmeta_port") != 0) fail("prctl: %s", strerror(errno));
  int fd = socket(v6 ? AF_INET6 : AF_INET, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
  if (fd < 0) fail("socket: %s", strerror(errno));
  if (v6) {
    int one = 1;
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) != 0) fail("IPV6_V6ONLY: %s", strerror(errno));
  }
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
