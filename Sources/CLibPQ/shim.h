#ifndef AGENTQUEUE_CLIBPQ_SHIM_H
#define AGENTQUEUE_CLIBPQ_SHIM_H
// libpq's headers live in /usr/include/postgresql; pkg-config (libpq.pc) adds that directory.
#include <libpq-fe.h>
#endif
