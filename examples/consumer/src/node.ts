// The Node script: the package's Node build (WebGPU through Dawn, the npm package `webgpu`), the bundled model from
// the installed package's folder, one OpenAI-style completion and one Star Attention run.
import { fileURLToPath } from 'node:url';
import { Engine } from 'star-attention-webgpu';
import { context, query } from './prompt.js';

const model = fileURLToPath(new URL('../node_modules/star-attention-webgpu/public/models/ruler-llama-tiny', import.meta.url));
const engine = await Engine.load({ model, maxContext: 1024 });
try {
  const completion = await engine.chat.completions.create({ messages: [{ role: 'user', content: context + '\n' + query }], max_tokens: 8, temperature: 0 });
  console.log(`chat: ${completion.choices[0].message.content} (${completion.usage.prompt_tokens} prompt tokens, ${completion.choices[0].finish_reason})`);
  const star = await engine.generate({ context, query, chat: true, attention: 'star', blockSize: 'L/2', maxNewTokens: 8 });
  console.log(`star: ${star.text} (block ${star.plan.blockSize}, first token ${star.timings.firstTokenMs.toFixed(0)} ms)`);
} finally {
  await engine.dispose();
}
