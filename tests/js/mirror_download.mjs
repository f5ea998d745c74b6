// Downloads one file with @huggingface/hub's downloadFile in mirror mode: `hubUrl` pointed at
// dlproxy's plain listener, Node's own fetch, no proxy agent and no CA (the recipe of
// docs/huggingface.md "Mirror mode"). Prints one JSON line: {"sha256", "bytes", "seconds",
// "type"}. Driven by tests/integration/test_mirror.py and test_mirror_xet.py.
//
// Usage: node mirror_download.mjs '{"repo": "org/name", "path": "file.bin",
//                                    "hubUrl": "http://127.0.0.1:3128"}'
import { createHash } from "node:crypto";

import { downloadFile } from "@huggingface/hub";

const opts = JSON.parse(process.argv[2]);
const started = process.hrtime.bigint();
const blob = await downloadFile({ repo: opts.repo, path: opts.path, hubUrl: opts.hubUrl });
if (!blob) throw new Error("file not found");
const hash = createHash("sha256");
let bytes = 0;
for await (const piece of blob.stream()) {
  hash.update(piece);
  bytes += piece.byteLength;
}
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
console.log(JSON.stringify({ sha256: hash.digest("hex"), bytes, seconds, type: blob.constructor.name }));
