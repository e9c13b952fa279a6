// What `--dry-run` prints: a run's plan in a few lines of JSON per host (not every chunk's windows).
import type { RunPlan } from '../engine';

export function planSummary(p: RunPlan) {
  const { program, memory } = p;
  return {
    attention: program.spec.attention,
    mode: program.mode,
    kvDtype: p.kvDtype,
    contextTokens: program.spec.ctxLen,
    queryTokens: program.spec.queryLen,
    maxNewTokens: program.spec.maxNewTokens,
    blockSize: program.plan.blockSize,
    anchorSize: program.plan.anchorSize,
    logicalHosts: program.logicalHosts,
    hosts: program.hosts.map((h, i) => ({
      ...memory.hosts[i],
      blocks: program.plan.hosts[i].blocks.map((b) => [b.start, b.end]),
      phase1Chunks: h.encode.length,
    })),
    totalBytes: memory.total,
    largestBufferBytes: memory.largestBuffer,
    maxBufferSize: memory.maxBufferSize,
    maxBindingBytes: memory.maxBindingBytes,
    deviceBytes: memory.deviceBytes ?? null,
  };
}
