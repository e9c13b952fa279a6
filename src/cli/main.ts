// star-attn: the command line. Each subcommand parses its own flags; errors are one line and exit 1.
import { AbortError, StarAttentionError, UsageError } from '../errors';
import { setAdapterLog } from '../gpu/device';
import { generateCommand } from './generate';
import { logitsCommand } from './logits';
import { rulerCommand } from './ruler';

const kUsage = `usage: star-attn <command> [flags]   (star-attn <command> --help for its flags)
commands:
  generate   stream an answer from a prompt, or from a context and a query with Star Attention
  logits     print the last position's logits and greedy tokens as JSON
  ruler      run RULER (ruler generate | ruler score | ruler [run])
--verbose (any command; or STAR_ATTN_VERBOSE=1): every installed Vulkan driver is tried, with its own messages`;

const kCommands: Record<string, (argv: string[]) => Promise<void>> = {
  generate: generateCommand,
  logits: logitsCommand,
  ruler: rulerCommand,
};

async function main(argv: string[]): Promise<void> {
  // --verbose works with every command; host processes inherit it through the environment
  if (argv.includes('--verbose')) process.env.STAR_ATTN_VERBOSE = '1';
  argv = argv.filter((a) => a !== '--verbose');
  // one line naming the GPU adapter (and why, on a fallback) instead of the drivers' own messages
  setAdapterLog((line) => console.error(`star-attn: GPU: ${line}`));
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') return console.log(kUsage);
  const run = kCommands[cmd];
  if (!run) throw new UsageError(`unknown command "${cmd}"\n${kUsage}`);
  await run(rest);
}

main(process.argv.slice(2)).then(
  () => process.exit(0),
  (e: Error) => {
    const msg = e instanceof UsageError ? e.message : `${e instanceof StarAttentionError ? e.name : 'error'}: ${e.message}`;
    console.error(`star-attn: ${msg}`);
    if (process.env.STAR_ATTN_DEBUG) console.error(e.stack);
    process.exit(e instanceof AbortError ? 130 : 1);
  },
);
