// epoll(7) and eventfd(2), which Swift's Glibc module leaves out (part of libc; nothing to link).
#include <sys/epoll.h>
#include <sys/eventfd.h>
