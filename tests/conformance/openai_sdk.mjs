// The official `openai` npm package against Code4me-RS's OpenAI-compatible API (/v1): what an
// off-the-shelf client does — list models, complete (also streamed, with a suffix for FIM, with
// stop sequences, two choices), chat (also streamed), embed (the SDK asks for base64 by default),
// and meet errors as the SDK's typed exceptions; a stream aborted midway leaves the API working.
//
// Usage: node tests/conformance/openai_sdk.mjs <base URL> <API key c4m_…>
// (install first: cd tests/conformance && npm ci)
import assert from "node:assert/strict";
import OpenAI from "openai";

const [base, key] = process.argv.slice(2);
if (!base || !key) {
  console.error("usage: node openai_sdk.mjs <base URL> <API key>");
  process.exit(2);
}
const MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct";
const EMBEDDING_MODEL = "sentence-transformers/all-MiniLM-L6-v2";
const client = new OpenAI({ baseURL: `${base.replace(/\/$/, "")}/v1`, apiKey: key, maxRetries: 0, timeout: 120_000 });

const checks = [];
const check = (name, run) => checks.push([name, run]);

check("lists the served models and the embedding model", async () => {
  const ids = [];
  for await (const model of client.models.list()) ids.push(model.id);
  assert.ok(ids.includes(MODEL), `models: ${ids}`);
  assert.ok(ids.includes(EMBEDDING_MODEL), `models: ${ids}`);
});

check("completes a prompt", async () => {
  const completion = await client.completions.create({ model: MODEL, prompt: "def add(a, b):\n    return", max_tokens: 8, temperature: 0 });
  assert.equal(completion.object, "text_completion");
  assert.ok(completion.choices[0].text.length > 0, JSON.stringify(completion));
  assert.ok(completion.usage.completion_tokens > 0);
});

check("streams a completion", async () => {
  const stream = await client.completions.create({ model: MODEL, prompt: "import sys\n", max_tokens: 12, stream: true, stream_options: { include_usage: true } });
  let text = "";
  let usage = null;
  let finish = null;
  for await (const chunk of stream) {
    for (const choice of chunk.choices) {
      text += choice.text;
      finish = choice.finish_reason ?? finish;
    }
    usage = chunk.usage ?? usage;
  }
  assert.ok(text.length > 0, "streamed text");
  assert.ok(["stop", "length"].includes(finish), `finish_reason ${finish}`);
  assert.ok(usage && usage.total_tokens > 0, "usage chunk");
});

check("fills in the middle with a suffix", async () => {
  const completion = await client.completions.create({ model: MODEL, prompt: "def mul(a, b):\n    ", suffix: "\n\nprint(mul(2, 3))\n", max_tokens: 12 });
  assert.equal(typeof completion.choices[0].text, "string");
});

check("stops at a stop sequence", async () => {
  const completion = await client.completions.create({ model: MODEL, prompt: "1, 2, 3, 4,", max_tokens: 24, stop: [","] });
  assert.ok(!completion.choices[0].text.includes(","), JSON.stringify(completion.choices[0]));
});

check("returns n=2 choices", async () => {
  const completion = await client.completions.create({ model: MODEL, prompt: "The sky is", max_tokens: 6, n: 2, temperature: 1, seed: 3 });
  assert.deepEqual(completion.choices.map((c) => c.index), [0, 1]);
});

check("chats", async () => {
  const chat = await client.chat.completions.create({ model: MODEL, max_tokens: 16, messages: [
    { role: "system", content: "You answer briefly." },
    { role: "user", content: "Name a programming language." },
  ] });
  assert.equal(chat.choices[0].message.role, "assistant");
  assert.ok(chat.choices[0].message.content.length > 0, JSON.stringify(chat));
});

check("streams a chat", async () => {
  const stream = await client.chat.completions.create({ model: MODEL, max_tokens: 16, stream: true, messages: [{ role: "user", content: "Say hello." }] });
  let text = "";
  let role = null;
  for await (const chunk of stream) {
    const delta = chunk.choices[0]?.delta ?? {};
    role = delta.role ?? role;
    text += delta.content ?? "";
  }
  assert.equal(role, "assistant");
  assert.ok(text.length > 0, "streamed chat text");
});

check("embeds: related code is closer than unrelated text", async () => {
  const inputs = ["def read_file(path):\n    with open(path) as f:\n        return f.read()", "def load_text(filename):\n    return open(filename).read()", "The weather in Delft is rainy today."];
  const result = await client.embeddings.create({ model: EMBEDDING_MODEL, input: inputs });
  const vectors = result.data.map((d) => d.embedding);
  assert.equal(vectors.length, 3);
  vectors.forEach((v) => assert.equal(v.length, 384));
  const cosine = (a, b) => {
    let dot = 0, na = 0, nb = 0;
    for (let i = 0; i < a.length; i++) { dot += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i]; }
    return dot / Math.sqrt(na * nb);
  };
  const related = cosine(vectors[0], vectors[1]);
  const unrelated = cosine(vectors[0], vectors[2]);
  assert.ok(related > unrelated, `related ${related} <= unrelated ${unrelated}`);
});

check("an invalid key is an AuthenticationError", async () => {
  const stranger = new OpenAI({ baseURL: client.baseURL, apiKey: "c4m_0000000000000000000000000000000000000000", maxRetries: 0 });
  await assert.rejects(stranger.models.list(), (e) => e instanceof OpenAI.AuthenticationError && e.status === 401);
});

check("an unknown model is a NotFoundError", async () => {
  await assert.rejects(client.completions.create({ model: "no-such-model", prompt: "x" }), (e) => e instanceof OpenAI.NotFoundError && e.status === 404);
});

check("a bad field is a BadRequestError", async () => {
  await assert.rejects(client.completions.create({ model: MODEL, prompt: "x", n: 1000 }), (e) => e instanceof OpenAI.BadRequestError && e.param === "n");
});

check("a stream aborted midway ends at once and leaves the API working", async () => {
  const controller = new AbortController();
  const stream = await client.completions.create(
    // A count the model keeps continuing, so the stream is still running when the client leaves.
    { model: MODEL, prompt: "1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,", max_tokens: 2000, stream: true },
    { signal: controller.signal },
  );
  let pieces = 0;
  // The SDK ends an aborted stream's iteration quietly (it swallows its own AbortError); older
  // versions threw APIUserAbortError. Either way no chunk may arrive after the abort.
  try {
    for await (const chunk of stream) {
      pieces += chunk.choices.length;
      if (pieces >= 1) controller.abort();
    }
  } catch (e) {
    assert.ok(e instanceof OpenAI.APIUserAbortError || e.name === "AbortError", `unexpected ${e}`);
  }
  assert.equal(pieces, 1, "no chunk after the abort");
  const after = await client.completions.create({ model: MODEL, prompt: "x = ", max_tokens: 4 });
  assert.ok(after.choices.length === 1);
});

let failed = 0;
for (const [name, run] of checks) {
  const started = Date.now();
  try {
    await run();
    console.log(`ok   ${name} (${Date.now() - started} ms)`);
  } catch (error) {
    failed += 1;
    console.log(`FAIL ${name}: ${error?.stack ?? error}`);
  }
}
console.log(`${checks.length - failed}/${checks.length} openai SDK checks passed`);
process.exit(failed ? 1 : 0);
