// Network and file I/O on the runtime's io_uring ring (docs/io.md).
#pragma once

#include "io/address.hpp"
#include "io/buffer_ring.hpp"
#include "io/error.hpp"
#include "io/fd.hpp"
#include "io/file.hpp"
#include "io/recv_stream.hpp"
#include "io/socket_options.hpp"
#include "io/tcp_listener.hpp"
#include "io/tcp_stream.hpp"
#include "io/udp_socket.hpp"
