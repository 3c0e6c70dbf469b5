// Internal helpers shared by the shim's translation units. Not part of the C API.
#ifndef TESSERA_SHIM_INTERNAL_H
#define TESSERA_SHIM_INTERNAL_H

#include <grpcpp/grpcpp.h>

#include <cstring>
#include <exception>
#include <string>

#include "tessera_shim.h"

namespace tessera_shim {

constexpr int32_t kDefaultMaxMessageBytes = 64 * 1024 * 1024;
constexpr const char *kEchoMethod = "/tessera.bench.v1.Echo/Echo";

// Copies `message` into a malloc'd C string the caller frees with tsr_string_free.
inline char *CopyMessage(const std::string &message) {
    char *out = static_cast<char *>(std::malloc(message.size() + 1));
    if (out != nullptr) std::memcpy(out, message.c_str(), message.size() + 1);
    return out;
}

inline void SetError(char **error, const std::string &message) {
    if (error != nullptr) *error = CopyMessage(message);
}

// Runs `body`, turning any C++ exception into TSR_INTERNAL so none crosses the C boundary.
template <typename Body>
tsr_code Guard(char **error, Body &&body) noexcept {
    try {
        return body();
    } catch (const std::exception &e) {
        SetError(error, std::string("internal error in gRPC shim: ") + e.what());
        return TSR_INTERNAL;
    } catch (...) {
        SetError(error, "internal error in gRPC shim: unknown C++ exception");
        return TSR_INTERNAL;
    }
}

// Flattens a (possibly multi-slice) byte buffer into one slice, sharing memory when it is already one.
inline bool Flatten(const grpc::ByteBuffer &buffer, grpc::Slice *out) {
    if (!buffer.Valid()) {
        *out = grpc::Slice();
        return true;
    }
    return buffer.DumpToSingleSlice(out).ok();
}

}  // namespace tessera_shim

#endif  // TESSERA_SHIM_INTERNAL_H
