#ifndef AUTHD_CHIREDIS_SHIM_H
#define AUTHD_CHIREDIS_SHIM_H
// Only the blocking API's declarations and the pure reply parser (read.h) are used.
// The async adapters (hiredis/adapters/*.h) are deliberately not part of this module:
// SwiftNIO owns the socket.
#include <hiredis/hiredis.h>
#endif
