/*
 * tessera_shim.h — a plain-C face over the C++ gRPC library (Debian's libgrpc++ 1.51).
 *
 * The shim moves bytes: every method is a generic call whose request and
 * response are serialized protobuf messages, so the shim knows no message type
 * and one small API serves every service. Serialization happens in Swift.
 * Methods are unary, except the ones a server names as streams: those are
 * bidirectional streams answered one response per request message (see
 * "Stream methods" below).
 *
 * Rules of this boundary (no stable API is promised beyond Tessera itself):
 *   - Every symbol carries the `tsr_` prefix; handles are opaque structs.
 *   - No C++ type or exception crosses it. Functions that can fail return a
 *     `tsr_code` (gRPC status codes) and, on failure, fill `*error` with a
 *     message the caller frees with `tsr_string_free`.
 *   - Buffers passed in are copied before the call returns unless stated
 *     otherwise; buffers handed out are valid only for the documented span.
 *   - Callbacks into the caller carry the `void *context` they were given and
 *     run on a gRPC thread: they must not block.
 */
#ifndef TESSERA_SHIM_H
#define TESSERA_SHIM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* gRPC status codes, numerically identical to grpc::StatusCode. */
typedef enum tsr_code {
    TSR_OK = 0,
    TSR_CANCELLED = 1,
    TSR_UNKNOWN = 2,
    TSR_INVALID_ARGUMENT = 3,
    TSR_DEADLINE_EXCEEDED = 4,
    TSR_NOT_FOUND = 5,
    TSR_ALREADY_EXISTS = 6,
    TSR_PERMISSION_DENIED = 7,
    TSR_RESOURCE_EXHAUSTED = 8,
    TSR_FAILED_PRECONDITION = 9,
    TSR_ABORTED = 10,
    TSR_OUT_OF_RANGE = 11,
    TSR_UNIMPLEMENTED = 12,
    TSR_INTERNAL = 13,
    TSR_UNAVAILABLE = 14,
    TSR_DATA_LOSS = 15,
    TSR_UNAUTHENTICATED = 16
} tsr_code;

/* Frees a message returned through an `error` out-parameter. NULL is ignored. */
void tsr_string_free(char *string);

/* One key/value pair of call metadata (ASCII header). Both strings are copied. */
typedef struct tsr_metadata {
    const char *key;
    const char *value;
} tsr_metadata;

/* ───────────────────────────── server ───────────────────────────── */

typedef struct tsr_server tsr_server;
typedef struct tsr_server_call tsr_server_call;

/*
 * Called once for every incoming unary call, on a gRPC thread. The callee takes
 * the call and must end it exactly once, from any thread, with
 * `tsr_server_call_respond` or `tsr_server_call_fail`; until then the request
 * bytes stay valid.
 *
 * For a stream method it is called once per event of the call instead (see
 * "Stream methods" below), always with the same call handle.
 */
typedef void (*tsr_server_handler)(void *context, tsr_server_call *call);

/* Server settings. Zero values mean the default named in each field. */
typedef struct tsr_server_options {
    /* Largest message accepted or sent, in bytes (default 64 MiB). */
    int32_t max_message_bytes;
    /* Register the standard grpc.health.v1.Health service (reports SERVING). */
    int32_t enable_health_check;
    /* Answer `/tessera.bench.v1.Echo/Echo` inside the shim, without calling the
       handler: the raw cost of gRPC for a payload, for benchmarks. */
    int32_t enable_echo;
    /* Full method names ("/pkg.Service/Method") served as bidirectional streams,
       one response per request message; every other method is unary. The
       strings are copied by tsr_server_start. May be NULL when the count is 0. */
    const char *const *stream_methods;
    int32_t stream_method_count;
    /* TLS. NULL `tls_certificate_chain` serves plaintext; otherwise the server
       presents this PEM chain with the PEM `tls_private_key`. The strings are
       copied by tsr_server_start. */
    const char *tls_certificate_chain;
    const char *tls_private_key;
    /* PEM roots that client certificates must chain to (mutual TLS); NULL
       asks for no client certificate. */
    const char *tls_client_ca;
    /* With `tls_client_ca`: 1 refuses a client without a valid certificate
       (mutual TLS); 0 verifies a certificate only if the client sends one. */
    int32_t tls_require_client_certificate;
} tsr_server_options;

/*
 * Binds `address` ("host:port"; port 0 lets the OS pick), registers `handler`
 * for every method and starts serving. On success `*out` owns the server and
 * `*bound_port` holds the port actually bound.
 */
tsr_code tsr_server_start(const char *address, const tsr_server_options *options,
                          tsr_server_handler handler, void *context,
                          tsr_server **out, int32_t *bound_port, char **error);

/*
 * Stops accepting calls, waits up to `grace_ms` for calls in flight, then
 * cancels the rest. Calls the handler still holds must still be ended.
 * Safe to call more than once.
 */
void tsr_server_shutdown(tsr_server *server, int64_t grace_ms);

/* Shuts down (grace 0) if needed and frees the server. NULL is ignored. */
void tsr_server_destroy(tsr_server *server);

/* The full method name of the call, e.g. "/tessera.v1.ParameterServer/Pull". */
const char *tsr_server_call_method(const tsr_server_call *call);

/* The serialized request; valid until the call is ended. */
const uint8_t *tsr_server_call_request(const tsr_server_call *call, size_t *length);

/* Value of the first metadata entry named `key` (lower case), or NULL. Valid until the call is ended. */
const char *tsr_server_call_metadata(const tsr_server_call *call, const char *key);

/* Milliseconds until the client's deadline; INT64_MAX when it set none. */
int64_t tsr_server_call_remaining_ms(const tsr_server_call *call);

/* Whether the client cancelled or the deadline passed. */
int32_t tsr_server_call_is_cancelled(const tsr_server_call *call);

/* Ends the call with OK and `response` (copied). The call handle is gone afterwards. */
void tsr_server_call_respond(tsr_server_call *call, const uint8_t *response, size_t length);

/* Ends the call with `code` (not TSR_OK) and `message`. The call handle is gone afterwards. */
void tsr_server_call_fail(tsr_server_call *call, tsr_code code, const char *message);

/*
 * Stream methods (`tsr_server_options.stream_methods`).
 *
 * The shim reads the client's messages one at a time. Each one is an event: the
 * handler is called with the call, `tsr_server_call_has_message` is 1 and
 * `tsr_server_call_request` holds the message. The callee answers it exactly
 * once, from any thread, with one of
 *   - `tsr_server_call_write`:   send the response and keep the stream open;
 *                                once it is sent the shim reads the next message;
 *   - `tsr_server_call_respond`: send the response and end the call with OK;
 *   - `tsr_server_call_fail`:    end the call with an error.
 * When the client has sent its last message (it half-closed), or the call broke
 * (the client cancelled, the deadline passed, a response could not be sent), the
 * handler is called one last time with `tsr_server_call_has_message` 0; the
 * callee must then end the call, normally with `tsr_server_call_finish`.
 *
 * Lifetimes: the call handle is the callee's from the first event until it ends
 * the call, and stays valid all that time: the shim never ends a stream call on
 * its own once it has handed it over. The request bytes of a message are valid
 * until that message is answered. Between events (after a write, before the
 * next event) the callee may query the call (metadata, deadline, cancellation)
 * but must not answer or end it: events are strictly sequential, so ending a
 * call only while an event is unanswered means no event can race with the end.
 * Answers and ends attempted outside that span are ignored.
 */

/* 1 when this event carries a request message; 0 when the stream's input ended.
   Always 1 for a unary call. */
int32_t tsr_server_call_has_message(const tsr_server_call *call);

/* Answers the current stream message with `response` (copied) and keeps the
   stream open. On a unary call it is `tsr_server_call_respond`. At the end of
   input (no message to answer) it ends the call with TSR_INTERNAL. */
void tsr_server_call_write(tsr_server_call *call, const uint8_t *response, size_t length);

/* Ends a stream call with OK and no further message: the answer to the end of
   input. If the input ended because a message could not be read, the call ends
   with that error instead. On a unary call (which must carry a response) it
   ends the call with TSR_INTERNAL. The call handle is gone afterwards. */
void tsr_server_call_finish(tsr_server_call *call);

/* A pointer the callee keeps with a stream call, e.g. its own per-call state;
   NULL until set. The shim never reads it. Thread-safe. */
void tsr_server_call_set_user_data(tsr_server_call *call, void *data);
void *tsr_server_call_user_data(const tsr_server_call *call);

/* ───────────────────────────── client ───────────────────────────── */

typedef struct tsr_channel tsr_channel;

/* Channel settings. Zero values mean the default named in each field. */
typedef struct tsr_channel_options {
    /* Largest message sent or accepted, in bytes (default 64 MiB). */
    int32_t max_message_bytes;
    /* 1 connects with TLS; 0 is plaintext and ignores the tls_* fields. */
    int32_t use_tls;
    /* PEM roots that the server's certificate must chain to; NULL uses the
       system's roots. */
    const char *tls_root_certificates;
    /* PEM client certificate chain and key for mutual TLS; both or neither. */
    const char *tls_certificate_chain;
    const char *tls_private_key;
    /* Name to check the server's certificate against instead of the target's
       host (tests, or dialing by IP address); NULL: the target's host. */
    const char *tls_server_name;
} tsr_channel_options;

/*
 * Opens a channel to `target` ("host:port"). Connection happens lazily; a dead
 * peer shows up as TSR_UNAVAILABLE on a call. Thread-safe: any number of calls
 * may be in flight on one channel.
 */
tsr_code tsr_channel_create(const char *target, const tsr_channel_options *options,
                            tsr_channel **out, char **error);

/* Frees the channel. Calls in flight finish (with CANCELLED) before their callbacks run. */
void tsr_channel_destroy(tsr_channel *channel);

/*
 * Completion of a unary call, on a gRPC thread. `response` is valid only during
 * the callback and is non-NULL only when `code` is TSR_OK. `message` is the
 * status message (empty on success), valid only during the callback.
 */
typedef void (*tsr_unary_callback)(void *context, tsr_code code, const char *message,
                                   const uint8_t *response, size_t length);

/*
 * Starts a unary call of `method` with the serialized `request` (copied) and
 * returns at once; `callback` runs exactly once when it ends. `timeout_ms`
 * <= 0 means no deadline. `metadata` may be NULL when `metadata_count` is 0.
 */
void tsr_channel_unary(tsr_channel *channel, const char *method,
                       const uint8_t *request, size_t length, int64_t timeout_ms,
                       const tsr_metadata *metadata, size_t metadata_count,
                       tsr_unary_callback callback, void *context);

#ifdef __cplusplus
}
#endif

#endif /* TESSERA_SHIM_H */
