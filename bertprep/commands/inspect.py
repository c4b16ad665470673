"""`bertprep inspect PATH`: check an output directory against its info.json and show a record.

Every shard is read through with both CRCs checked, every record is decoded with the schema stored in
info.json, and the counts are compared with the ones the job recorded. A missing completion marker, a
corrupt or truncated file (named with its byte offset), or a length that differs from the schema all
end with a one-line error and exit status 1.
"""
import json

from bertprep import schemas
from bertprep.errors import BertprepError
from bertprep.io import fs
from bertprep.io import output as output_lib
from bertprep.io import tfrecord

COMMAND = "inspect"
HELP = "validate an output directory (CRC, schema, counts) and print a decoded record"


def add_arguments(parser):
    parser.add_argument("path", help="an output directory written by a bertprep job")
    parser.add_argument("--examples", type=int, default=1, help="decoded records to print")
    parser.add_argument("--max-seq-length", type=int, default=None,
                        help="check the data against this max_seq_length (as a trainer would)")
    parser.add_argument("--max-predictions-per-seq", type=int, default=None,
                        help="check the data against this max_predictions_per_seq")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")


def inspect_directory(path: str, examples: int = 1, expected: dict = None) -> dict:
    """Validate `path`; return a summary with counts and decoded examples. Raises BertprepError."""
    directory = output_lib.OutputDirectory(path)
    info_path = directory.file(output_lib.INFO_FILE)
    if not fs.exists(info_path):
        if directory.is_complete():
            raise BertprepError("%s has a completion marker but no info.json" % path)
        raise BertprepError("%s is incomplete: no info.json and no %s marker (the run did not finish)"
                            % (path, output_lib.COMPLETE_MARKER))
    info = directory.read_info()
    complete = directory.is_complete()
    if not complete:
        raise BertprepError("%s is incomplete: no %s marker (the run did not finish)" % (path, output_lib.COMPLETE_MARKER))
    if "schema" not in info:
        return {"path": path, "kind": info.get("kind"), "complete": complete, "records": None, "examples": [],
                "note": "no TFRecord schema in info.json (table output)"}
    schema = schemas.RecordSchema.from_json(info["schema"])
    if expected:
        config = dict(schema.config)
        config.update({key: value for key, value in expected.items() if value is not None})
        schemas.for_kind(schema.kind, config).check_compatible(schema)
    total = 0
    decoded = []
    for shard in info.get("shards", []):
        shard_path = directory.file(shard["file"])
        if not fs.exists(shard_path):
            raise BertprepError("%s: shard listed in info.json is missing" % shard_path)
        count = 0
        for offset, record in tfrecord.read_file(shard_path):
            try:
                values = schema.decode(record)
            except BertprepError as error:
                raise BertprepError("%s: record at byte offset %d: %s" % (shard_path, offset, error)) from None
            if len(decoded) < examples:
                decoded.append({name: value.tolist() for name, value in values.items()})
            count += 1
        if count != shard["records"]:
            raise BertprepError("%s holds %d records but info.json says %d" % (shard_path, count, shard["records"]))
        total += count
    return {"path": path, "kind": schema.kind, "complete": complete, "records": total,
            "counts": info.get("counts", {}), "features": [f.to_json() for f in schema.features],
            "examples": decoded}


def run(args) -> int:
    expected = {"max_seq_length": args.max_seq_length, "max_predictions_per_seq": args.max_predictions_per_seq}
    summary = inspect_directory(args.path, args.examples, expected if any(expected.values()) else None)
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, indent=2))
        return 0
    print("%s: %s records, complete" % (summary["path"], summary["records"]))
    print("kind: %s" % summary["kind"])
    for name, value in sorted(summary.get("counts", {}).items()):
        print("  %-20s %s" % (name, value))
    for feature in summary.get("features", []):
        print("  feature %-22s %-8s %s" % (feature["name"], feature["dtype"], feature["shape"]))
    for example in summary["examples"]:
        print(json.dumps(example, ensure_ascii=False))
    return 0
