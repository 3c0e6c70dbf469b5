#!/usr/bin/env python3
"""Writes the seed corpus of `tessera-fuzz` (fuzz/corpus/TARGET/*). Rerun after changing it.

An input's first byte picks a variant (see Sources/TesseraFuzz): for `interactions`
the file extension (bits 0-1), the declared format (bits 2-4), scenario/written
columns (bits 5-6) and min_rating (bit 7); for `messages` the message type (bits 0-6,
an index into MessageFuzz.types) and JSON (bit 7). The rest is the payload.
"""
import glob
import os
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")


def put(target, name, data):
    folder = os.path.join(CORPUS, target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


# --- config: every shipped config, plus small ones with overrides and odd corners.
for path in sorted(glob.glob(os.path.join(HERE, "..", "Cluster", "*.yaml"))):
    put("config", os.path.basename(path), open(path, "rb").read())
put("config", "overrides.yaml", "#set training.epochs=3\n#set tables[0].dim=8\nshards: 3\nworkers: 1\n")
put("config", "anchors.yaml", "base: &t {name: user, dim: 8}\ntables: [*t, {name: item, dim: 8}]\n")
put("config", "features.yaml", "data:\n  path: r.csv\n  item_features: {path: m.csv, separator: '|'}\n  scenarios: movielens_genres\n")
put("config", "ranking.yaml", "ranking: {enabled: true, dense_table: dense}\ntables:\n  - {name: user, dim: 8}\n  - {name: item, dim: 8}\n  - {name: dense, dim: 256, optimizer: {kind: adam, learning_rate: 0.001}, init: {kind: zeros}}\n")
put("config", "split.yaml", "data: {train: a.csv, valid: b.csv, test: c.csv, format: csv, columns: {user: u, item: i, rating: null}}\n")

# --- interactions: (choice byte, file).  ext = choice % 4 -> csv tsv dat txt; format = (choice >> 2) % 6
# -> auto movielens csv tsv pairs sequences.
def choice(ext, fmt, scenario=False, written=False, min_rating=False):
    return bytes([ext | (fmt << 2) | (scenario << 5) | (written << 6) | (min_rating << 7)])

put("interactions", "movielens", choice(2, 0) + b"1::31::2.5::1260759144\n1::1029::3.0::1260759179\n2::10::4::835355493\n")
put("interactions", "csv", choice(0, 0) + b"userId,movieId,rating,timestamp\n1,31,2.5,1260759144\n1,\"1,029\",3.0,1260759179\r\n2,10,4,835355493\n")
put("interactions", "csv-scenario", choice(0, 2, scenario=True) + b"userId,movieId,rating,timestamp,scenario\n1,31,2.5,1,0\n2,x,4,2,1\n")
put("interactions", "csv-written", choice(0, 0, written=True, min_rating=True) + b"user,item,rating,timestamp\nu1,i1,5,1\nu2,i2,1,2\n")
put("interactions", "tsv", choice(1, 0) + b"userId\tmovieId\trating\ttimestamp\n1\t31\t2.5\t1\n")
put("interactions", "pairs", choice(3, 0) + b"1 2\n1 3\nalice bob\n")
put("interactions", "sequences", choice(3, 5) + b"1 2 3 4\nu7 i1 i2\n")
put("interactions", "bom", choice(0, 0) + b"\xef\xbb\xbfuserId,movieId\n1,2\n")

# --- item-features: choice byte picks id column, value column and separator.
put("item-features", "movies", b"\x00movieId,title,genres\n1,Toy Story (1995),Adventure|Animation|Children\n2,\"Jumanji, the game\",Adventure|Fantasy\n")
put("item-features", "tags", b"\x07id,tags\nx,a;b\n")

# --- messages: protobuf wire format by hand (varint, length-delimited).
def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)

def field(number, value):
    if isinstance(value, int):
        return varint(number << 3) + varint(value)
    return varint(number << 3 | 2) + varint(len(value)) + value

TYPES = ["RecommendRequest", "ScoredItem", "RecommendResponse", "ScoreRequest", "ScoreResponse", "FeedbackRequest",
         "FeedbackResponse", "PullRequest", "PullResponse", "PushRequest", "PushResponse", "ScoreItemsRequest",
         "ScoredKey", "ScoreItemsResponse", "CounterDelta", "UpdateCountersRequest", "UpdateCountersResponse",
         "AssignRequest", "AssignResponse", "ShardStatsRequest", "TableStats", "ShardStatsResponse", "RegisterRequest",
         "RegisterResponse", "HeartbeatRequest", "HeartbeatResponse", "ShardMapRequest", "ShardMap", "ShardEndpoint"]

def message(name, payload, json=False):
    return bytes([TYPES.index(name) | (0x80 if json else 0)]) + payload

endpoint = lambda i, a: field(1, i) + field(2, a.encode())
put("messages", "shardmap", message("ShardMap", field(1, 3) + field(2, endpoint(0, "10.0.0.1:7071")) + field(2, endpoint(1, "h:1")) + field(3, 64) + field(4, 7)))
put("messages", "shardmap-json", message("ShardMap", b'{"version":"3","shards":[{"shardId":0,"address":"a:1"}],"virtualNodes":8}', json=True))
floats = struct.pack("<4f", 1.0, -2.5, 0.0, 3.25)
put("messages", "pull-response", message("PullResponse", field(1, 2) + field(2, 0) + field(3, floats)))
put("messages", "push-request", message("PushRequest", field(1, b"item") + field(2, 1) + field(3, varint(5) + varint(9)) + field(4, 2) + field(5, 1) + field(6, struct.pack("<4e", 1, 2, 3, 4))))
put("messages", "register-response", message("RegisterResponse", field(1, 1) + field(2, 2) + field(3, b'{"name":"x","shards":2,"workers":1}') + field(4, b"run-1")))
put("messages", "recommend-request", message("RecommendRequest", field(1, b"42") + field(2, 10)))
put("messages", "empty", message("ShardStatsRequest", b""))

# --- rows: choice byte, then the payload.
put("rows", "float32", b"\x00" + floats)
put("rows", "float16", b"\x05" + struct.pack("<4e", 1, -2, 0.5, 65504))
put("rows", "specials", b"\x81" + struct.pack("<4f", float("inf"), float("-inf"), float("nan"), -0.0))
put("rows", "odd", b"\x02\x01\x02\x03")
