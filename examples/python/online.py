#!/usr/bin/env python3
"""Recommend, give feedback, recommend again: Tessera's online loop from Python.

    pip install -r examples/python/requirements.txt
    python examples/python/online.py --scheduler 127.0.0.1:7070 --user 42 -k 5

Asks for a user's top-k, reports an impression for every item shown and a click
on one of them, then asks again until the answer reflects the click (its
`feedback_offset` reaches the click's log offset). Prints both lists, the
offsets and how long the click took to show. Also checks the standard gRPC
health service. Stubs are generated from Protos/ on first use (see recommend.py).
"""
import argparse
import sys
import time

import recommend  # the stub loader beside this file


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scheduler", required=True, help="host:port of the scheduler")
    parser.add_argument("--user", required=True, help="user id")
    parser.add_argument("-k", type=int, default=5)
    parser.add_argument("--click", type=int, default=1, help="rank of the item to click (1 = first)")
    parser.add_argument("--policy", default="", help="exploration policy; empty = the server's default")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the click to show")
    recommend.add_security_arguments(parser)
    args = parser.parse_args()

    import grpc

    inference_pb2, inference_pb2_grpc = recommend.load_stubs()
    with recommend.open_channel(args) as channel:
        health = channel.unary_unary(
            "/grpc.health.v1.Health/Check",
            request_serializer=lambda _: b"",
            response_deserializer=lambda data: data,
        )
        status = health(None, timeout=5)
        serving = b"\x08\x01"  # HealthCheckResponse{status: SERVING}
        print("# health:", "SERVING" if status == serving else repr(status))

        stub = inference_pb2_grpc.InferenceStub(channel)
        ask = inference_pb2.RecommendRequest(user_id=args.user, k=args.k, policy=args.policy)
        before = stub.Recommend(ask, timeout=10)
        print(f"# before: model version {before.model_version}, feedback offset {before.feedback_offset}, policy {before.policy}")
        for rank, item in enumerate(before.items, start=1):
            print(f"before {rank} {item.item_id} {item.score:.4f}{' explored' if item.explored else ''}")
        if not before.items:
            sys.exit("no items recommended")

        for item in before.items:
            stub.Feedback(inference_pb2.FeedbackRequest(
                user_id=args.user, item_id=item.item_id, event=inference_pb2.FEEDBACK_TYPE_IMPRESSION), timeout=10)
        clicked = before.items[min(args.click, len(before.items)) - 1].item_id
        sent = time.monotonic()
        ack = stub.Feedback(inference_pb2.FeedbackRequest(
            user_id=args.user, item_id=clicked, event=inference_pb2.FEEDBACK_TYPE_CLICK), timeout=10)
        print(f"# clicked {clicked}: acknowledged at log offset {ack.offset}")

        while True:
            after = stub.Recommend(ask, timeout=10)
            if after.feedback_offset >= ack.offset:
                break
            if time.monotonic() - sent > args.timeout:
                sys.exit(f"the click (offset {ack.offset}) was not reflected within {args.timeout} s "
                         f"(feedback offset {after.feedback_offset})")
            time.sleep(0.02)
        print(f"# after: feedback offset {after.feedback_offset}, reflected in {time.monotonic() - sent:.3f} s")
        for rank, item in enumerate(after.items, start=1):
            print(f"after {rank} {item.item_id} {item.score:.4f}{' explored' if item.explored else ''}")


if __name__ == "__main__":
    main()
