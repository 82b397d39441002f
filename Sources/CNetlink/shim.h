#ifndef TANDEM_CNETLINK_SHIM_H
#define TANDEM_CNETLINK_SHIM_H

#include <netlink/netlink.h>
#include <netlink/msg.h>
#include <netlink/attr.h>
#include <netlink/socket.h>
#include <netlink/errno.h>
#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/genl/genl.h>
#include <netlink/genl/ctrl.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/link/bridge.h>
#include <netlink/route/rtnl.h>
#include <linux/if_addr.h>
#include <linux/if.h>
#include <linux/if_arp.h>
#include <linux/rtnetlink.h>
#include <linux/neighbour.h>
#include <linux/ip_vs.h>

// RTM_F_FIB_MATCH (linux 4.13) is missing from older uapi copies; the value is ABI.
#ifndef RTM_F_FIB_MATCH
#define RTM_F_FIB_MATCH 0x2000
#endif

// setns(2) and unshare(2) are declared by <sched.h> only under _GNU_SOURCE, which Swift's
// Glibc module is built without; the prototypes are glibc's.
extern int setns(int fd, int nstype);
extern int unshare(int flags);
#define TANDEM_CLONE_NEWNET 0x40000000

// ioctl(2) is variadic, which Swift cannot call. NS_GET_NSTYPE (linux 4.11) answers which kind
// of namespace a file refers to (CLONE_NEWNET for a network namespace), -1 for other files.
#include <sys/ioctl.h>
#include <linux/nsfs.h>
static inline int tandem_namespace_type(int fd) { return ioctl(fd, NS_GET_NSTYPE); }

// NETLINK_GET_STRICT_CHK (linux 4.20): Swift cannot see every macro of socket.h.
#ifndef NETLINK_GET_STRICT_CHK
#define NETLINK_GET_STRICT_CHK 12
#endif

#endif
