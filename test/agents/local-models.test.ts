/**
 * The local-model recipes of docs/agents.md (Ollama, llama.cpp, vLLM), as written: their
 * settings load, and an agent's turn under them reaches an OpenAI-compatible server (the fake) in
 * the shape those servers take.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, test } from 'node:test';
import { loadAgentConfig } from '../../src/agent-config.ts';
import { createStrategies } from '../../src/agents/strategies.ts';
import { sampleTurn } from '../support/agents.ts';
import { startFakeOpenAI, type FakeOpenAI } from '../support/fake-openai.ts';

let fake: FakeOpenAI;
before(async () => {
  fake = await startFakeOpenAI();
});
after(() => fake?.close());

/** Each recipe's `export NAME=value` lines, by the server it is for. */
async function recipes(): Promise<Map<string, Record<string, string>>> {
  const doc = await readFile(new URL('../../docs/agents.md', import.meta.url), 'utf8');
  const section = doc.slice(doc.indexOf('### Local models'), doc.indexOf('### The response cache'));
  const found = new Map<string, Record<string, string>>();
  for (const [, server, block] of section.matchAll(/\*\*([\w.]+)\*\*[\s\S]*?```sh\n([\s\S]*?)```/g))
    found.set(server!, Object.fromEntries([...block!.matchAll(/^export (\w+)=(\S+)$/gm)].map((m) => [m[1]!, m[2]!])));
  return found;
}

const fail = (message: string): never => {
  throw new Error(message);
};

test('the Ollama, llama.cpp and vLLM recipes load and drive an agent against an OpenAI-compatible server', async () => {
  const found = await recipes();
  assert.deepEqual([...found.keys()], ['Ollama', 'llama.cpp', 'vLLM']);
  for (const [server, env] of found) {
    assert.match(env.OPENAI_BASE_URL!, /^http:\/\/127\.0\.0\.1:(?!8080\/)\d+\/v1$/, `${server}: on 127.0.0.1, off the validator's port`);
    const config = loadAgentConfig({ ...env, OPENAI_BASE_URL: fake.baseUrl }, fail);
    assert.equal(config.openai?.priceInputPerMtok, 0, `${server}: priced at 0, so no warning`);
    assert.ok(config.openai?.limits?.maxConcurrent, `${server}: a concurrency limit`);
    fake.requests.length = 0;
    const strategy = createStrategies(['openai-compatible'], config).get('openai-compatible')!;
    const decided = await strategy.propose(sampleTurn());
    assert.equal(decided.error, undefined, `${server}: ${decided.error}`);
    assert.deepEqual(decided.value?.action, 'pass');
    const request = fake.requests[0]!;
    assert.equal(request.model, env.OPENAI_MODEL, `${server}: the model as documented`);
    assert.equal(request.apiKey, env.OPENAI_API_KEY, `${server}: the key as a bearer token`);
    assert.equal((request.body.response_format as { type?: string }).type, 'json_schema');
    assert.equal(typeof request.body.seed, 'number', `${server}: a seed`);
  }
});
