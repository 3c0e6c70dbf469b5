// Client half of the shim: generic unary calls over one channel, completed by callback.
#include <grpcpp/generic/generic_stub.h>

#include <chrono>
#include <memory>

#include "shim_internal.h"

using tessera_shim::Guard;
using tessera_shim::SetError;

struct tsr_channel {
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<grpc::GenericStub> stub;
};

namespace {

// Everything one call needs until its completion callback has run.
struct UnaryCall {
    grpc::ClientContext context;
    grpc::ByteBuffer request;
    grpc::ByteBuffer response;
    tsr_unary_callback callback;
    void *callback_context;
};

void Complete(UnaryCall *call, const grpc::Status &status) noexcept {
    try {
        if (status.ok()) {
            grpc::Slice flat;
            if (tessera_shim::Flatten(call->response, &flat)) {
                call->callback(call->callback_context, TSR_OK, "", flat.begin(), flat.size());
            } else {
                call->callback(call->callback_context, TSR_INTERNAL, "could not read the response bytes",
                               nullptr, 0);
            }
        } else {
            call->callback(call->callback_context, static_cast<tsr_code>(status.error_code()),
                           status.error_message().c_str(), nullptr, 0);
        }
    } catch (...) {
        call->callback(call->callback_context, TSR_INTERNAL, "internal error in gRPC shim", nullptr, 0);
    }
    delete call;
}

}  // namespace

extern "C" tsr_code tsr_channel_create(const char *target, const tsr_channel_options *options,
                                       tsr_channel **out, char **error) {
    return Guard(error, [&]() -> tsr_code {
        if (target == nullptr || out == nullptr) {
            SetError(error, "tsr_channel_create: target and out must not be NULL");
            return TSR_INVALID_ARGUMENT;
        }
        tsr_channel_options defaults{};
        const tsr_channel_options &opts = options != nullptr ? *options : defaults;
        int32_t max_bytes = opts.max_message_bytes > 0 ? opts.max_message_bytes
                                                       : tessera_shim::kDefaultMaxMessageBytes;
        grpc::ChannelArguments args;
        args.SetMaxReceiveMessageSize(max_bytes);
        args.SetMaxSendMessageSize(max_bytes);
        // Each channel gets its own connection rather than sharing a global subchannel.
        args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
        std::shared_ptr<grpc::ChannelCredentials> credentials;
        if (opts.use_tls != 0) {
            if ((opts.tls_certificate_chain == nullptr) != (opts.tls_private_key == nullptr)) {
                SetError(error, "tsr_channel_create: a client certificate needs its private key, and the key its certificate");
                return TSR_INVALID_ARGUMENT;
            }
            grpc::SslCredentialsOptions ssl;
            if (opts.tls_root_certificates != nullptr) ssl.pem_root_certs = opts.tls_root_certificates;
            if (opts.tls_certificate_chain != nullptr) {
                ssl.pem_cert_chain = opts.tls_certificate_chain;
                ssl.pem_private_key = opts.tls_private_key;
            }
            credentials = grpc::SslCredentials(ssl);
            if (opts.tls_server_name != nullptr && opts.tls_server_name[0] != '\0') {
                args.SetSslTargetNameOverride(opts.tls_server_name);
            }
        } else {
            credentials = grpc::InsecureChannelCredentials();
        }
        if (!credentials) {
            SetError(error, std::string("could not create TLS credentials for ") + target);
            return TSR_INVALID_ARGUMENT;
        }
        auto channel = std::make_unique<tsr_channel>();
        channel->channel = grpc::CreateCustomChannel(target, credentials, args);
        if (!channel->channel) {
            SetError(error, std::string("could not create a channel to ") + target);
            return TSR_INVALID_ARGUMENT;
        }
        channel->stub = std::make_unique<grpc::GenericStub>(channel->channel);
        *out = channel.release();
        return TSR_OK;
    });
}

extern "C" void tsr_channel_destroy(tsr_channel *channel) {
    if (channel == nullptr) return;
    Guard(nullptr, [&]() -> tsr_code {
        delete channel;
        return TSR_OK;
    });
}

extern "C" void tsr_channel_unary(tsr_channel *channel, const char *method, const uint8_t *request,
                                  size_t length, int64_t timeout_ms, const tsr_metadata *metadata,
                                  size_t metadata_count, tsr_unary_callback callback, void *context) {
    UnaryCall *call = nullptr;
    char *error = nullptr;
    tsr_code code = Guard(&error, [&]() -> tsr_code {
        if (channel == nullptr || method == nullptr) {
            SetError(&error, "tsr_channel_unary: channel and method must not be NULL");
            return TSR_INVALID_ARGUMENT;
        }
        call = new UnaryCall();
        call->callback = callback;
        call->callback_context = context;
        if (timeout_ms > 0) {
            call->context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(timeout_ms));
        }
        for (size_t i = 0; i < metadata_count; ++i) {
            call->context.AddMetadata(metadata[i].key, metadata[i].value);
        }
        grpc::Slice slice(request, length);
        call->request = grpc::ByteBuffer(&slice, 1);
        channel->stub->UnaryCall(&call->context, method, grpc::StubOptions(), &call->request, &call->response,
                                 [call](grpc::Status status) { Complete(call, status); });
        return TSR_OK;
    });
    if (code != TSR_OK) {
        // The call never started: report through the callback so the caller has one path.
        callback(context, code, error != nullptr ? error : "could not start the call", nullptr, 0);
        tsr_string_free(error);
        // `call` may have been allocated before the failure; it was never handed to gRPC.
        delete call;
    }
}
