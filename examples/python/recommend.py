#!/usr/bin/env python3
"""Ask a running Tessera cluster for a user's top-k items, from Python.

    pip install -r examples/python/requirements.txt
    python examples/python/recommend.py --scheduler 127.0.0.1:7070 --user 42 -k 10

The gRPC stubs are generated from the repository's Protos/ on first use (into
examples/python/gen/, with grpc_tools' protoc), so this client always speaks the
API that the server was built from. Prints one `rank item score` line per item,
after a `#` header line.

A secured cluster (README, "Security") needs its token: --token-file FILE, or the
TESSERA_TOKEN / TESSERA_TOKEN_FILE environment variables, sent as
`authorization: Bearer <token>` on every call; with TLS, --tls-ca (and, for
mutual TLS, --tls-cert and --tls-key), or TESSERA_TLS_CA / _CERT / _KEY.
"""
import argparse
import os
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
PROTOS = HERE.parent.parent / "Protos"
GENERATED = HERE / "gen"


def load_stubs():
    """Generates (if needed) and imports the inference stubs."""
    target = GENERATED / "tessera" / "v1" / "inference_pb2_grpc.py"
    sources = sorted(PROTOS.glob("tessera/v1/*.proto"))
    if not target.exists() or any(s.stat().st_mtime > target.stat().st_mtime for s in sources):
        from grpc_tools import protoc

        GENERATED.mkdir(exist_ok=True)
        args = ["protoc", f"-I{PROTOS}", f"--python_out={GENERATED}", f"--grpc_python_out={GENERATED}"]
        if protoc.main(args + [str(s) for s in sources]) != 0:
            sys.exit("could not generate the gRPC stubs from " + str(PROTOS))
    sys.path.insert(0, str(GENERATED))
    from tessera.v1 import inference_pb2, inference_pb2_grpc

    return inference_pb2, inference_pb2_grpc


def add_security_arguments(parser):
    """The token and TLS options every example takes (defaults from TESSERA_* variables)."""
    env = os.environ.get
    parser.add_argument("--token-file", default=env("TESSERA_TOKEN_FILE"), help="file holding the cluster's token")
    parser.add_argument("--tls-ca", default=env("TESSERA_TLS_CA"), help="CA certificate (PEM): connect with TLS")
    parser.add_argument("--tls-cert", default=env("TESSERA_TLS_CERT"), help="client certificate (PEM), mutual TLS")
    parser.add_argument("--tls-key", default=env("TESSERA_TLS_KEY"), help="client private key (PEM), mutual TLS")
    parser.add_argument("--tls-server-name", default=env("TESSERA_TLS_SERVER_NAME"),
                        help="name to check in the server's certificate")


def open_channel(args):
    """A channel to args.scheduler with the token on every call and TLS when a CA is given."""
    import grpc

    token = None
    if args.token_file:
        token = pathlib.Path(args.token_file).read_text().strip()
    elif os.environ.get("TESSERA_TOKEN", "").strip():
        token = os.environ["TESSERA_TOKEN"].strip()
    options = []
    if args.tls_server_name:
        options.append(("grpc.ssl_target_name_override", args.tls_server_name))
    if args.tls_ca:
        read = lambda path: pathlib.Path(path).read_bytes() if path else None
        credentials = grpc.ssl_channel_credentials(read(args.tls_ca), read(args.tls_key), read(args.tls_cert))
        channel = grpc.secure_channel(args.scheduler, credentials, options=options)
    else:
        channel = grpc.insecure_channel(args.scheduler, options=options)
    if token is None:
        return channel
    return grpc.intercept_channel(channel, _bearer_token_class()(token))


def _bearer_token_class():
    import grpc

    class Details(grpc.ClientCallDetails):
        def __init__(self, details, metadata):
            self.method = details.method
            self.timeout = details.timeout
            self.metadata = metadata
            self.credentials = details.credentials
            self.wait_for_ready = getattr(details, "wait_for_ready", None)
            self.compression = getattr(details, "compression", None)

    class BearerToken(grpc.UnaryUnaryClientInterceptor):
        """Adds `authorization: Bearer <token>` to every unary call."""

        def __init__(self, token):
            self.header = ("authorization", f"Bearer {token}")

        def intercept_unary_unary(self, continuation, details, request):
            metadata = list(details.metadata or []) + [self.header]
            return continuation(Details(details, metadata), request)

    return BearerToken


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scheduler", required=True, help="host:port of the scheduler")
    parser.add_argument("--user", required=True, help="user id as in the training data")
    parser.add_argument("-k", type=int, default=10, help="how many items")
    parser.add_argument("--timeout", type=float, default=10.0, help="deadline in seconds")
    add_security_arguments(parser)
    args = parser.parse_args()

    import grpc

    inference_pb2, inference_pb2_grpc = load_stubs()
    with open_channel(args) as channel:
        stub = inference_pb2_grpc.InferenceStub(channel)
        try:
            response = stub.Recommend(
                inference_pb2.RecommendRequest(user_id=args.user, k=args.k), timeout=args.timeout
            )
        except grpc.RpcError as error:
            sys.exit(f"Recommend failed: {error.code().name}: {error.details()}")
    fallback = " (unknown user: most popular items)" if response.popularity_fallback else ""
    print(f"# user {args.user}, model version {response.model_version}{fallback}")
    for rank, item in enumerate(response.items, start=1):
        print(f"{rank} {item.item_id} {item.score:.4f}")


if __name__ == "__main__":
    main()
