// Downloads one Xet file with @huggingface/hub's downloadFile (its XetBlob reader) and prints
// one JSON line: {"sha256", "bytes", "seconds"}. Driven by tests/integration/test_xet_js.py.
//
// Usage: node xet_download.mjs '{"repo": "org/name", "path": "file.bin", "ca": "PEM file",
//                                 "proxy": "http://127.0.0.1:3128"}'
//        (or "direct": PORT instead of "proxy": connect every https name to 127.0.0.1:PORT,
//         the imitation itself, for the baseline)
//
// Through dlproxy: undici's ProxyAgent sends CONNECT to dlproxy, which intercepts the Hugging
// Face names; `requestTls.ca` makes the client trust dlproxy's CA for the decrypted tunnel (the
// same recipe as docs/huggingface.md). The client's own fetch is replaced by undici's fetch
// with that dispatcher; downloadFile hands it to XetBlob for the token, reconstruction and
// transfer requests alike.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import tls from "node:tls";

import { downloadFile } from "@huggingface/hub";
import { Agent, ProxyAgent, fetch as undiciFetch } from "undici";

const opts = JSON.parse(process.argv[2]);
const ca = readFileSync(opts.ca);

let dispatcher;
if (opts.proxy) {
  dispatcher = new ProxyAgent({ uri: opts.proxy, requestTls: { ca } });
} else {
  // Direct to the imitation at its real names: every TLS connection goes to 127.0.0.1:PORT,
  // with SNI and certificate checks for the name asked.
  dispatcher = new Agent({
    connect: (o, callback) => {
      const socket = tls.connect({ host: "127.0.0.1", port: opts.direct, servername: o.hostname, ca });
      socket.once("secureConnect", () => callback(null, socket));
      socket.once("error", (err) => callback(err, null));
      return socket;
    },
  });
}
const fetch = (url, init) => undiciFetch(url, { ...init, dispatcher });

const started = process.hrtime.bigint();
const blob = await downloadFile({ repo: opts.repo, path: opts.path, fetch });
if (!blob) throw new Error("file not found");
const hash = createHash("sha256");
let bytes = 0;
for await (const piece of blob.stream()) {
  hash.update(piece);
  bytes += piece.byteLength;
}
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
console.log(JSON.stringify({ sha256: hash.digest("hex"), bytes, seconds, type: blob.constructor.name }));
await dispatcher.close();
