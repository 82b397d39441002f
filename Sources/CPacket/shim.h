#ifndef TANDEM_CPACKET_SHIM_H
#define TANDEM_CPACKET_SHIM_H
// AF_PACKET sockets: Glibc's Swift module map leaves these headers out. The kernel's
// <linux/if_packet.h> rather than glibc's <netpacket/packet.h>: CNetlink's headers include the
// former, and two different definitions of struct sockaddr_ll cannot meet in one program.
#include <sys/socket.h>
#include <linux/if_packet.h>
#include <linux/if_ether.h>
#endif
