#ifndef TANDEM_CLIBVIRT_SHIM_H
#define TANDEM_CLIBVIRT_SHIM_H

#include <stddef.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

// libvirt prints every error to stderr unless an error function is set; the agent reports
// errors itself (one line, read by Pacemaker), so this one drops them. A C function rather
// than a Swift closure: it is installed once, before any connection, and must never capture.
static void tandem_virt_ignore_error(void *data, virErrorPtr error) {
    (void)data;
    (void)error;
}

static inline void tandem_virt_silence_errors(void) {
    virSetErrorFunc(NULL, tandem_virt_ignore_error);
}

#endif
