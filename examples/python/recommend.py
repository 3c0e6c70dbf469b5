#!/usr/bin/env python3
"""Ask a running Tessera cluster for a user's top-k items, from Python.

    pip install -r examples/python/requirements.txt
    python examples/python/recommend.py --scheduler 127.0.0.1:7070 --user 42 -k 10

The gRPC stubs are generated from the repository's Protos/ on first use (into
examples/python/gen/, with grpc_tools' protoc), so this client always speaks the
API that the server was built from. Prints one `rank item score` line per item,
after a `#` header line.
"""
import argparse
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scheduler", required=True, help="host:port of the scheduler")
    parser.add_argument("--user", required=True, help="user id as in the training data")
    parser.add_argument("-k", type=int, default=10, help="how many items")
    parser.add_argument("--timeout", type=float, default=10.0, help="deadline in seconds")
    args = parser.parse_args()

    import grpc

    inference_pb2, inference_pb2_grpc = load_stubs()
    with grpc.insecure_channel(args.scheduler) as channel:
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
