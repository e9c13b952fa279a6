// The page: the package's browser build, loaded by Vite from node_modules. Star Attention on two Web Worker hosts,
// then the same question through the OpenAI-style API, streamed.
import { Engine } from 'star-attention-webgpu';
import { context, query } from './prompt';

const $ = (id: string) => document.getElementById(id)!;

async function main(): Promise<void> {
  const engine = await Engine.load({ model: { baseUrl: new URL('/models/ruler-llama-tiny/', location.href).href }, maxContext: 1024 });
  $('status').textContent = 'loaded; Star Attention on 2 Web Worker hosts…';
  const star = await engine.generate({ context, query, chat: true, attention: 'star', blockSize: 'L/2', hosts: 2, mode: 'workers', maxNewTokens: 8 });
  $('star').textContent = `${star.text} (${star.plan.hosts} hosts, first token ${star.timings.firstTokenMs.toFixed(0)} ms)`;
  $('status').textContent = 'chat.completions.create…';
  const stream = await engine.chat.completions.create({ messages: [{ role: 'user', content: context + '\n' + query }], max_tokens: 8, temperature: 0, stream: true });
  for await (const chunk of stream) $('chat').textContent += chunk.choices[0]?.delta.content ?? '';
  await engine.dispose();
  $('status').textContent = 'done';
}

main().catch((e: unknown) => ($('status').textContent = `error: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`));
