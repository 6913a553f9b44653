#ifndef AGENTQUEUE_CSYSTEMD_SHIM_H
#define AGENTQUEUE_CSYSTEMD_SHIM_H

// The Swift side sends CODE_FILE/CODE_LINE/CODE_FUNC itself: without this, sd-journal.h turns
// sd_journal_sendv into a macro that would add the location of this header instead.
#define SD_JOURNAL_SUPPRESS_LOCATION 1

#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>
#include <sys/uio.h>

#endif
