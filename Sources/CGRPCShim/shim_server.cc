// Server half of the shim: one callback generic service hands every call to a C handler,
// unary calls whole and stream calls one message at a time.
#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/health_check_service_interface.h>

#include <atomic>
#include <chrono>
#include <climits>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_set>

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
    std::unordered_set<std::string> stream_methods;
    std::unique_ptr<Service> service;
    std::unique_ptr<grpc::Server> server;
    std::mutex shutdown_mutex;
    bool shut_down = false;
};

// One incoming call. gRPC owns its lifetime: it is deleted in OnDone, which comes
// only after the handler ended the call with respond, fail or finish.
//
// A unary call reads one message, hands it to the handler and ends with its answer.
// A stream call (a method in `tsr_server::stream_methods`) loops: read, hand the
// message to the handler, write its answer, read again; the end of input is handed
// to the handler too, which then ends the call. `mutex_` guards the phase, because
// the handler answers from any thread while gRPC runs reactions on its own. gRPC
// operations that only start I/O (StartRead, StartWrite) are issued under the lock
// (their reactions never run inline); Finish and StartWriteAndFinish are issued
// after it is released, because OnDone may delete `this` as soon as they are.
struct tsr_server_call final : public grpc::ServerGenericBidiReactor {
    tsr_server_call(tsr_server *server, grpc::GenericCallbackServerContext *context)
        : server_(server),
          context_(context),
          stream_(server->stream_methods.count(context->method()) != 0) {
        StartRead(&request_buffer_);
    }

    void OnReadDone(bool ok) override {
        if (stream_) {
            StreamReadDone(ok);
            return;
        }
        try {
            if (!ok) {
                EndByShim(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "the call carried no request message"));
                return;
            }
            if (!tessera_shim::Flatten(request_buffer_, &request_)) {
                EndByShim(grpc::Status(grpc::StatusCode::INTERNAL, "could not read the request bytes"));
                return;
            }
            if (server_->echo && context_->method() == tessera_shim::kEchoMethod) {
                {
                    std::lock_guard<std::mutex> lock(mutex_);
                    phase_ = Phase::kEnded;
                }
                response_buffer_ = request_buffer_;
                StartWriteAndFinish(&response_buffer_, grpc::WriteOptions(), grpc::Status::OK);
                return;
            }
            {
                std::lock_guard<std::mutex> lock(mutex_);
                phase_ = Phase::kHandling;
            }
        } catch (...) {
            EndByShim(grpc::Status(grpc::StatusCode::INTERNAL, "internal error in gRPC shim"));
            return;
        }
        server_->handler(server_->context, this);
    }

    void OnWriteDone(bool ok) override {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            if (phase_ != Phase::kWriting) return;
            if (ok) {
                phase_ = Phase::kReading;
                StartRead(&request_buffer_);
                return;
            }
            // The response could not be sent (the call broke): report the end of input.
            phase_ = Phase::kHandling;
            has_message_ = false;
            request_ = grpc::Slice();
        }
        server_->handler(server_->context, this);
    }

    void OnDone() override { delete this; }

    const std::string &Method() const { return context_->method(); }
    const grpc::Slice &Request() const { return request_; }
    bool HasMessage() const { return !stream_ || has_message_; }
    void SetUserData(void *data) { user_data_.store(data, std::memory_order_release); }
    void *UserData() const { return user_data_.load(std::memory_order_acquire); }

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

    // Sends `bytes` and ends the call with OK.
    void Respond(const uint8_t *bytes, size_t length) {
        grpc::Slice slice(bytes, length);
        if (Claim(grpc::Status::OK, grpc::ByteBuffer(&slice, 1), true)) PerformEnd();
    }

    void Fail(tsr_code code, const char *message) {
        grpc::Status status(static_cast<grpc::StatusCode>(code), message == nullptr ? "" : message);
        if (Claim(status, grpc::ByteBuffer(), false)) PerformEnd();
    }

    // Answers the current stream message and keeps the stream open.
    void Write(const uint8_t *bytes, size_t length) {
        if (!stream_) {
            Respond(bytes, length);
            return;
        }
        grpc::Slice slice(bytes, length);
        {
            std::lock_guard<std::mutex> lock(mutex_);
            if (phase_ != Phase::kHandling) return;  // nothing to answer: ignored
            if (has_message_) {
                response_buffer_ = grpc::ByteBuffer(&slice, 1);
                phase_ = Phase::kWriting;
                StartWrite(&response_buffer_);
                return;
            }
        }
        Fail(TSR_INTERNAL, "the handler wrote a response after the client's last message");
    }

    // Ends a stream call with OK (or with the error that ended its input).
    void FinishStream() {
        if (!stream_) {
            Fail(TSR_INTERNAL, "the handler finished a unary call without a response");
            return;
        }
        grpc::Status status = grpc::Status::OK;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            if (!input_error_.ok()) status = input_error_;
        }
        if (Claim(status, grpc::ByteBuffer(), false)) PerformEnd();
    }

   private:
    enum class Phase {
        kReading,   // a read is in flight; the handler holds no event
        kHandling,  // the handler holds an event and has not answered it
        kWriting,   // a stream response is in flight
        kEnded,     // Finish was (or is about to be) issued
    };

    void StreamReadDone(bool ok) {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            if (phase_ != Phase::kReading) return;
            has_message_ = ok;
            if (ok) {
                bool flattened = false;
                try {
                    flattened = tessera_shim::Flatten(request_buffer_, &request_);
                } catch (...) {
                }
                if (!flattened) {
                    // Reported as the end of input: the handler may hold this call already.
                    has_message_ = false;
                    input_error_ = grpc::Status(grpc::StatusCode::INTERNAL, "could not read a request message");
                }
            }
            if (!has_message_) request_ = grpc::Slice();
            phase_ = Phase::kHandling;
        }
        server_->handler(server_->context, this);
    }

    // Records how the call ends and returns true when the handler holds an unanswered
    // event (so no read or write is in flight); otherwise the end is ignored (the call
    // already ended, or a stream is between events) and it returns false.
    bool Claim(const grpc::Status &status, grpc::ByteBuffer final_message, bool with_message) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (phase_ != Phase::kHandling) return false;
        end_status_ = status;
        final_buffer_ = std::move(final_message);
        end_with_message_ = with_message;
        phase_ = Phase::kEnded;
        return true;
    }

    // Issues the end recorded by Claim. Called without the lock, once, after the phase
    // became kEnded: nothing else touches the end fields from then on.
    void PerformEnd() {
        if (end_with_message_) {
            StartWriteAndFinish(&final_buffer_, grpc::WriteOptions(), end_status_);
        } else {
            Finish(end_status_);
        }
    }

    // Ends a call the handler never received.
    void EndByShim(const grpc::Status &status) {
        {
            std::lock_guard<std::mutex> lock(mutex_);
            if (phase_ == Phase::kEnded) return;
            phase_ = Phase::kEnded;
        }
        Finish(status);
    }

    tsr_server *server_;
    grpc::GenericCallbackServerContext *context_;
    const bool stream_;
    std::mutex mutex_;
    Phase phase_ = Phase::kReading;
    bool has_message_ = false;
    grpc::Status input_error_;
    grpc::Status end_status_;
    bool end_with_message_ = false;
    grpc::ByteBuffer request_buffer_;
    grpc::Slice request_;
    grpc::ByteBuffer response_buffer_;
    grpc::ByteBuffer final_buffer_;
    std::atomic<void *> user_data_{nullptr};
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
        if (opts.stream_method_count < 0 || (opts.stream_method_count > 0 && opts.stream_methods == nullptr)) {
            SetError(error, "tsr_server_start: stream_methods must hold stream_method_count names");
            return TSR_INVALID_ARGUMENT;
        }
        for (int32_t i = 0; i < opts.stream_method_count; ++i) {
            if (opts.stream_methods[i] == nullptr) {
                SetError(error, "tsr_server_start: stream_methods holds a NULL name");
                return TSR_INVALID_ARGUMENT;
            }
            server->stream_methods.insert(opts.stream_methods[i]);
        }
        server->service = std::make_unique<Service>(server.get());

        grpc::ServerBuilder builder;
        // The default health service is switched on by a process-wide flag read at build time.
        grpc::EnableDefaultHealthCheckService(opts.enable_health_check != 0);
        // gRPC sets SO_REUSEPORT by default, which lets a second server silently share a
        // busy port; a parameter server must own its port or fail loudly.
        builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
        std::shared_ptr<grpc::ServerCredentials> credentials;
        if (opts.tls_certificate_chain != nullptr) {
            if (opts.tls_private_key == nullptr) {
                SetError(error, "tsr_server_start: a TLS certificate needs its private key");
                return TSR_INVALID_ARGUMENT;
            }
            grpc_ssl_client_certificate_request_type request = GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE;
            if (opts.tls_client_ca != nullptr) {
                request = opts.tls_require_client_certificate != 0
                              ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                              : GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY;
            }
            grpc::SslServerCredentialsOptions ssl(request);
            if (opts.tls_client_ca != nullptr) ssl.pem_root_certs = opts.tls_client_ca;
            ssl.pem_key_cert_pairs.push_back({opts.tls_private_key, opts.tls_certificate_chain});
            credentials = grpc::SslServerCredentials(ssl);
        } else {
            credentials = grpc::InsecureServerCredentials();
        }
        if (!credentials) {
            SetError(error, "tsr_server_start: could not create TLS server credentials");
            return TSR_INVALID_ARGUMENT;
        }
        int port = 0;
        builder.AddListeningPort(address, credentials, &port);
        builder.SetMaxReceiveMessageSize(max_bytes);
        builder.SetMaxSendMessageSize(max_bytes);
        builder.RegisterCallbackGenericService(server->service.get());
        server->server = builder.BuildAndStart();
        if (!server->server || port == 0) {
            SetError(error, std::string("could not listen on ") + address +
                                (opts.tls_certificate_chain != nullptr
                                     ? " (is the address valid and the port free, and do the TLS certificate and key match?)"
                                     : " (is the address valid and the port free?)"));
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

extern "C" int32_t tsr_server_call_has_message(const tsr_server_call *call) {
    return call->HasMessage() ? 1 : 0;
}

extern "C" void tsr_server_call_write(tsr_server_call *call, const uint8_t *response, size_t length) {
    try {
        call->Write(response, length);
    } catch (...) {
        call->Fail(TSR_INTERNAL, "internal error in gRPC shim while sending a response");
    }
}

extern "C" void tsr_server_call_finish(tsr_server_call *call) {
    try {
        call->FinishStream();
    } catch (...) {
        call->Fail(TSR_INTERNAL, "internal error in gRPC shim");
    }
}

extern "C" void tsr_server_call_set_user_data(tsr_server_call *call, void *data) { call->SetUserData(data); }

extern "C" void *tsr_server_call_user_data(const tsr_server_call *call) { return call->UserData(); }

extern "C" void tsr_server_call_fail(tsr_server_call *call, tsr_code code, const char *message) {
    if (code == TSR_OK) code = TSR_UNKNOWN;
    try {
        call->Fail(code, message);
    } catch (...) {
        call->Fail(TSR_INTERNAL, "internal error in gRPC shim");
    }
}
