#ifndef TANDEM_CPACKET_SHIM_H
#define TANDEM_CPACKET_SHIM_H
// AF_PACKET sockets: Glibc's Swift module map leaves these headers out.
#include <sys/socket.h>
#include <netpacket/packet.h>
#include <linux/if_ether.h>
#endif
