// Server half of the shim: one callback generic service hands every call to a C handler.
#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/health_check_service_interface.h>

#include <atomic>
#include <chrono>
#include <climits>
#include <map>
#include <memory>
#include <mutex>

#include "shim_internal.h"

using tessera_shim::Guard;
using tessera_shim::SetError;

struct tsr_server;

namespace {

class Service;

}  // namespace

struct tsr_server {
    tsr_server_handler handler = nullptr;
    void *context = nullptr;
    bool echo = false;
    std::unique_ptr<Service> service;
    std::unique_ptr<grpc::Server> server;
    std::mutex shutdown_mutex;
    bool shut_down = false;
};

// One incoming call. gRPC owns its lifetime: it is deleted in OnDone, which comes
// only after the handler ended the call with respond or fail.
struct tsr_server_call final : public grpc::ServerGenericBidiReactor {
    tsr_server_call(tsr_server *server, grpc::GenericCallbackServerContext *context)
        : server_(server), context_(context) {
        StartRead(&request_buffer_);
    }

    void OnReadDone(bool ok) override {
        try {
            if (!ok) {
                Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                    "the call carried no request message"));
                return;
            }
            if (!tessera_shim::Flatten(request_buffer_, &request_)) {
                Finish(grpc::Status(grpc::StatusCode::INTERNAL, "could not read the request bytes"));
                return;
            }
            if (server_->echo && context_->method() == tessera_shim::kEchoMethod) {
                response_buffer_ = request_buffer_;
                StartWriteAndFinish(&response_buffer_, grpc::WriteOptions(), grpc::Status::OK);
                return;
            }
            server_->handler(server_->context, this);
        } catch (...) {
            Finish(grpc::Status(grpc::StatusCode::INTERNAL, "internal error in gRPC shim"));
        }
    }

    void OnDone() override { delete this; }

    const std::string &Method() const { return context_->method(); }
    const grpc::Slice &Request() const { return request_; }

    const char *Metadata(const char *key) {
        std::string name(key);
        auto cached = metadata_.find(name);
        if (cached != metadata_.end()) return cached->second.c_str();
        const auto &all = context_->client_metadata();
        auto found = all.find(grpc::string_ref(name));
        if (found == all.end()) return nullptr;
        auto inserted = metadata_.emplace(name, std::string(found->second.data(), found->second.size()));
        return inserted.first->second.c_str();
    }

    int64_t RemainingMs() const {
        auto deadline = context_->raw_deadline();
        if (gpr_time_cmp(deadline, gpr_inf_future(deadline.clock_type)) == 0) return INT64_MAX;
        auto remaining = context_->deadline() - std::chrono::system_clock::now();
        return std::chrono::duration_cast<std::chrono::milliseconds>(remaining).count();
    }

    bool IsCancelled() const { return context_->IsCancelled(); }

    void Respond(const uint8_t *bytes, size_t length) {
        grpc::Slice slice(bytes, length);
        response_buffer_ = grpc::ByteBuffer(&slice, 1);
        StartWriteAndFinish(&response_buffer_, grpc::WriteOptions(), grpc::Status::OK);
    }

    void Fail(tsr_code code, const char *message) {
        Finish(grpc::Status(static_cast<grpc::StatusCode>(code), message == nullptr ? "" : message));
    }

   private:
    tsr_server *server_;
    grpc::GenericCallbackServerContext *context_;
    grpc::ByteBuffer request_buffer_;
    grpc::Slice request_;
    grpc::ByteBuffer response_buffer_;
    std::map<std::string, std::string> metadata_;
};

namespace {

class Service final : public grpc::CallbackGenericService {
   public:
    explicit Service(tsr_server *server) : server_(server) {}

    grpc::ServerGenericBidiReactor *CreateReactor(grpc::GenericCallbackServerContext *context) override {
        return new tsr_server_call(server_, context);
    }

   private:
    tsr_server *server_;
};

}  // namespace

extern "C" tsr_code tsr_server_start(const char *address, const tsr_server_options *options,
                                     tsr_server_handler handler, void *context, tsr_server **out,
                                     int32_t *bound_port, char **error) {
    return Guard(error, [&]() -> tsr_code {
        if (address == nullptr || handler == nullptr || out == nullptr) {
            SetError(error, "tsr_server_start: address, handler and out must not be NULL");
            return TSR_INVALID_ARGUMENT;
        }
        tsr_server_options defaults{};
        const tsr_server_options &opts = options != nullptr ? *options : defaults;
        int32_t max_bytes = opts.max_message_bytes > 0 ? opts.max_message_bytes
                                                       : tessera_shim::kDefaultMaxMessageBytes;

        auto server = std::make_unique<tsr_server>();
        server->handler = handler;
        server->context = context;
        server->echo = opts.enable_echo != 0;
        server->service = std::make_unique<Service>(server.get());

        grpc::ServerBuilder builder;
        // The default health service is switched on by a process-wide flag read at build time.
        grpc::EnableDefaultHealthCheckService(opts.enable_health_check != 0);
        // gRPC sets SO_REUSEPORT by default, which lets a second server silently share a
        // busy port; a parameter server must own its port or fail loudly.
        builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
        int port = 0;
        builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &port);
        builder.SetMaxReceiveMessageSize(max_bytes);
        builder.SetMaxSendMessageSize(max_bytes);
        builder.RegisterCallbackGenericService(server->service.get());
        server->server = builder.BuildAndStart();
        if (!server->server || port == 0) {
            SetError(error, std::string("could not listen on ") + address +
                                " (is the address valid and the port free?)");
            return TSR_UNAVAILABLE;
        }
        if (bound_port != nullptr) *bound_port = port;
        *out = server.release();
        return TSR_OK;
    });
}

extern "C" void tsr_server_shutdown(tsr_server *server, int64_t grace_ms) {
    if (server == nullptr) return;
    Guard(nullptr, [&]() -> tsr_code {
        std::lock_guard<std::mutex> lock(server->shutdown_mutex);
        if (server->shut_down || !server->server) return TSR_OK;
        server->shut_down = true;
        auto deadline = std::chrono::system_clock::now() + std::chrono::milliseconds(grace_ms < 0 ? 0 : grace_ms);
        server->server->Shutdown(deadline);
        server->server->Wait();
        return TSR_OK;
    });
}

extern "C" void tsr_server_destroy(tsr_server *server) {
    if (server == nullptr) return;
    tsr_server_shutdown(server, 0);
    Guard(nullptr, [&]() -> tsr_code {
        server->server.reset();
        delete server;
        return TSR_OK;
    });
}

extern "C" const char *tsr_server_call_method(const tsr_server_call *call) {
    return call->Method().c_str();
}

extern "C" const uint8_t *tsr_server_call_request(const tsr_server_call *call, size_t *length) {
    const grpc::Slice &request = call->Request();
    if (length != nullptr) *length = request.size();
    return request.begin();
}

extern "C" const char *tsr_server_call_metadata(const tsr_server_call *call, const char *key) {
    if (key == nullptr) return nullptr;
    try {
        return const_cast<tsr_server_call *>(call)->Metadata(key);
    } catch (...) {
        return nullptr;
    }
}

extern "C" int64_t tsr_server_call_remaining_ms(const tsr_server_call *call) {
    return call->RemainingMs();
}

extern "C" int32_t tsr_server_call_is_cancelled(const tsr_server_call *call) {
    return call->IsCancelled() ? 1 : 0;
}

extern "C" void tsr_server_call_respond(tsr_server_call *call, const uint8_t *response, size_t length) {
    try {
        call->Respond(response, length);
    } catch (...) {
        call->Fail(TSR_INTERNAL, "internal error in gRPC shim while sending the response");
    }
}

extern "C" void tsr_server_call_fail(tsr_server_call *call, tsr_code code, const char *message) {
    if (code == TSR_OK) code = TSR_UNKNOWN;
    try {
        call->Fail(code, message);
    } catch (...) {
        call->Fail(TSR_INTERNAL, "internal error in gRPC shim");
    }
}
