// Drives `v4eval serve --http` with the official `openai` npm package (a real client, not ours):
// models, chat completions streaming and not, reasoning, usage, errors.
//
//   node tests/tools/openai_npm_client.mjs BASE_URL API_KEY CASES.json
//
// CASES.json: [{"sample_id", "mode", "text", "reasoning"}] — what the replay backend behind the
// server answers. Exit 0 when every check passes, 1 on a failed check, 3 when the package is
// missing (the test then skips).

import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(new URL("../../tools/node/package.json", import.meta.url));
let OpenAI;
try {
  OpenAI = require("openai");
  OpenAI = OpenAI.OpenAI ?? OpenAI.default ?? OpenAI;
} catch (e) {
  console.error("openai npm package not installed (scripts/setup.sh installs it): " + e.message);
  process.exit(3);
}

const [baseURL, apiKey, casesFile] = process.argv.slice(2);
const cases = JSON.parse(readFileSync(casesFile, "utf8"));
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 20000 });

let failures = 0;
function check(cond, what) {
  if (!cond) {
    console.error("FAIL: " + what);
    failures++;
  }
}

// DeepSeek API switches (v4-model.md §5.3), sent the way the SDK documents extra_body fields.
function modeParams(mode) {
  if (mode === "non-think") return { thinking: { type: "disabled" } };
  return { thinking: { type: "enabled" }, reasoning_effort: mode === "think-max" ? "max" : "high" };
}

const models = await client.models.list();
const ids = [];
for await (const m of models) ids.push(m.id);
check(ids.length === 1, "one model listed: " + JSON.stringify(ids));
const model = ids[0];

for (const c of cases) {
  const params = {
    model,
    messages: [{ role: "user", content: "sample " + c.sample_id }],
    metadata: { suite: "mrcr", sample_id: c.sample_id, repeat: "0" },
    ...modeParams(c.mode),
  };
  // Not streaming.
  const r = await client.chat.completions.create(params);
  const msg = r.choices[0].message;
  check(r.object === "chat.completion" && r.id.startsWith("chatcmpl-"), "completion object");
  check(msg.role === "assistant", "role");
  check(msg.content === c.text, `text of ${c.sample_id}/${c.mode}`);
  check((msg.reasoning_content ?? "") === c.reasoning, `reasoning of ${c.sample_id}/${c.mode}`);
  check(r.choices[0].finish_reason === "stop", "finish_reason");
  check(r.v4eval?.effective_mode === c.mode, `effective mode ${r.v4eval?.effective_mode} for ${c.mode}`);

  // Streaming, with usage.
  const stream = await client.chat.completions.create({
    ...params,
    stream: true,
    stream_options: { include_usage: true },
  });
  let text = "", reasoning = "", finish = null, sawUsage = false, chunks = 0;
  for await (const chunk of stream) {
    chunks++;
    check(chunk.object === "chat.completion.chunk", "chunk object");
    if (chunk.usage) sawUsage = true;
    for (const choice of chunk.choices) {
      text += choice.delta.content ?? "";
      reasoning += choice.delta.reasoning_content ?? "";
      if (choice.finish_reason) finish = choice.finish_reason;
    }
  }
  check(chunks >= 3, "several chunks");
  check(text === c.text, `streamed text of ${c.sample_id}/${c.mode}`);
  check(reasoning === c.reasoning, `streamed reasoning of ${c.sample_id}/${c.mode}`);
  check(finish === "stop", "streamed finish_reason");
  check(sawUsage, "usage chunk");
}

// Errors come back as the SDK's typed errors.
async function expectError(promise, status, what) {
  try {
    await promise;
    check(false, what + ": no error");
  } catch (e) {
    check(e.status === status, `${what}: status ${e.status}, want ${status} (${e.message})`);
  }
}
await expectError(
  new OpenAI({ baseURL, apiKey: "wrong-key", maxRetries: 0 }).chat.completions.create({
    model, messages: [{ role: "user", content: "x" }] }),
  401, "wrong key");
await expectError(client.chat.completions.create({ model: "no-such-model", messages: [{ role: "user", content: "x" }] }),
  404, "unknown model");
await expectError(client.chat.completions.create({ model, messages: [] }), 400, "empty messages");
await expectError(
  client.chat.completions.create({ model, messages: [{ role: "user", content: "x" }],
    metadata: { suite: "mrcr", sample_id: "no-such-sample" }, thinking: { type: "disabled" } }),
  400, "no recorded generation");
// The same error while streaming arrives as an error event.
try {
  const s = await client.chat.completions.create({ model, messages: [{ role: "user", content: "x" }],
    metadata: { suite: "mrcr", sample_id: "no-such-sample" }, thinking: { type: "disabled" }, stream: true });
  for await (const _ of s) {
  }
  check(false, "stream error: no error");
} catch (e) {
  check(/no recorded generation/.test(e.message), "stream error message: " + e.message);
}

if (failures) {
  console.error(`${failures} check(s) failed`);
  process.exit(1);
}
console.log(`openai npm client: ${cases.length} cases, streaming and not, all correct`);
