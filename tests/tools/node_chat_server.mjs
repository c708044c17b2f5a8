// An OpenAI-compatible Chat Completions server built on Node's own `http` module: an HTTP/1.1
// implementation that is not ours, for tests/integration/openai_node_server.sh. It answers each
// attempt with the text a replay file holds for it (the attempt is named by the request's
// `metadata`, the mode by the chat-template switches), streaming through chunked transfer
// encoding or in one body with a Content-Length, as Node writes them. It closes a connection
// that stays idle for --idle-close-ms after a response (Node's own keepAliveTimeout adds a 1 s
// grace), racing the client's next request on it: what busy servers and proxies do to clients
// that keep connections open.
//
//   node node_chat_server.mjs --replay FILE --port-file FILE --stats-file FILE
//        [--idle-close-ms N] [--max-seconds S]
//
// Loopback only. Writes {requests, connections, streamed, plain} to --stats-file at exit
// (SIGTERM, or --max-seconds).
import fs from "node:fs";
import http from "node:http";

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith("--") ? [...acc, [a.slice(2), all[i + 1]]] : acc), []));
const answers = new Map();
for (const line of fs.readFileSync(args.replay, "utf8").split("\n")) {
  if (!line.trim()) continue;
  const r = JSON.parse(line);
  answers.set(`${r.sample_id}/${r.mode}`, r.text);
}
const stats = { requests: 0, connections: 0, streamed: 0, plain: 0, refused: 0, idle_closed: 0 };
const idleCloseMs = Number(args["idle-close-ms"] || 2);

function modeOf(body) {
  const k = body.chat_template_kwargs || {};
  if (k.thinking === false) return "non-think";
  if (k.thinking === true) return k.reasoning_effort === "max" ? "think-max" : "think-high";
  return null;
}

function refuse(res, status, message) {
  stats.refused += 1;
  const body = JSON.stringify({ error: { message, type: "invalid_request_error" } });
  res.writeHead(status, { "content-type": "application/json" }).end(body);
}

// Closes the socket when no request arrived within idleCloseMs of this response's end.
function closeWhenIdle(req, res) {
  const socket = req.socket;
  socket.generation = (socket.generation || 0) + 1;
  res.on("finish", () => {
    const generation = socket.generation;
    setTimeout(() => {
      if (socket.generation === generation && !socket.destroyed) {
        stats.idle_closed += 1;
        socket.destroy();
      }
    }, idleCloseMs);
  });
}

const server = http.createServer((req, res) => {
  closeWhenIdle(req, res);
  const chunks = [];
  req.on("data", (c) => chunks.push(c));
  req.on("end", () => {
    stats.requests += 1;
    if (req.method !== "POST" || !req.url.endsWith("/chat/completions")) return refuse(res, 404, "no such route");
    let body;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    } catch {
      return refuse(res, 400, "body is not JSON");
    }
    const mode = modeOf(body);
    const id = body.metadata && body.metadata.sample_id;
    const text = answers.get(`${id}/${mode}`);
    if (text === undefined) return refuse(res, 400, `no answer for sample ${id} in mode ${mode}`);
    const reasoning = mode === "non-think" ? "" : `Sample ${id}: copy the needle. (${mode})`;
    const usage = { prompt_tokens: 100, completion_tokens: Math.max(1, text.length >> 2) };
    if (body.stream) {
      stats.streamed += 1;
      // No Content-Length: Node sends the body chunked, one chunk per write.
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
      const event = (obj) => res.write(`data: ${JSON.stringify(obj)}\n\n`);
      const chunk = (delta, finish) => ({ object: "chat.completion.chunk", model: body.model,
        choices: [{ index: 0, delta, finish_reason: finish }] });
      event(chunk({ role: "assistant" }, null));
      if (reasoning) event(chunk({ reasoning_content: reasoning }, null));
      // The answer in pieces of up to 7 code points (never splitting a surrogate pair).
      const points = Array.from(text);
      for (let i = 0; i < points.length; i += 7) event(chunk({ content: points.slice(i, i + 7).join("") }, null));
      event(chunk({}, "stop"));
      event({ object: "chat.completion.chunk", choices: [], usage });
      res.end("data: [DONE]\n\n");
    } else {
      stats.plain += 1;
      const out = JSON.stringify({ id: "chatcmpl-node", object: "chat.completion", model: body.model,
        choices: [{ index: 0, message: { role: "assistant", content: text, reasoning_content: reasoning || null },
                    finish_reason: "stop" }], usage });
      res.writeHead(200, { "content-type": "application/json" }).end(out);  // Node adds Content-Length
    }
  });
});
server.on("connection", () => { stats.connections += 1; });

function stop() {
  fs.writeFileSync(args["stats-file"], JSON.stringify(stats));
  process.exit(0);
}
process.on("SIGTERM", stop);
setTimeout(stop, 1000 * Number(args["max-seconds"] || 120)).unref();
server.listen(0, "127.0.0.1", () => fs.writeFileSync(args["port-file"], String(server.address().port)));
