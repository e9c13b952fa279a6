// RULER's errors are the package's typed errors (src/errors.ts): data problems are RulerDataError, bad
// settings InvalidRequestError, and BudgetError / StoreModelMismatchError are the shared classes.
import { describe, expect, it } from 'vitest';
import * as errors from '../errors';
import { BudgetError, fitLargest } from './budget';
import { parseEssay } from './essay';
import { BudgetError as IndexBudgetError, StoreModelMismatchError as IndexMismatch } from './index';
import { parseJsonl, parsePredictions } from './jsonl';
import { loadQaDataset, parseHotpotqa, parseSquad } from './qa_data';
import { StoreModelMismatchError } from './runner';
import { readSource } from './source';
import { taskInfo } from './tasks';

const thrown = async (f: () => unknown): Promise<unknown> => {
  try {
    await f();
  } catch (e) {
    return e;
  }
  throw new Error('did not throw');
};

describe('RULER errors', () => {
  it('re-exports the shared BudgetError and StoreModelMismatchError', () => {
    expect(BudgetError).toBe(errors.BudgetError);
    expect(IndexBudgetError).toBe(errors.BudgetError);
    expect(StoreModelMismatchError).toBe(errors.StoreModelMismatchError);
    expect(IndexMismatch).toBe(errors.StoreModelMismatchError);
    const e = new StoreModelMismatchError('a', 'b');
    expect(e.code).toBe('RESULT_STORE');
    expect(() => fitLargest((n) => n, () => 1e9, 10, { min: 1, hint: 1, perUnit: 1 })).toThrow(errors.BudgetError);
  });

  it('types data and setting errors', async () => {
    expect(await thrown(() => parseEssay('{"text": 3}'))).toBeInstanceOf(errors.RulerDataError);
    expect(await thrown(() => parseEssay('{"text": '))).toBeInstanceOf(errors.RulerDataError);
    expect(await thrown(() => parseJsonl('{}\n{'))).toBeInstanceOf(errors.RulerDataError);
    expect(await thrown(() => parsePredictions('{"task": "niah_single_1", "pred": 3}'))).toBeInstanceOf(errors.RulerDataError);
    expect(await thrown(() => parseSquad({}))).toBeInstanceOf(errors.RulerDataError);
    expect(await thrown(() => parseHotpotqa({}))).toBeInstanceOf(errors.RulerDataError);
    expect(await thrown(() => loadQaDataset('squad', 'public/fixtures/tiny-llama/config.json'))).toBeInstanceOf(errors.RulerDataError);
    expect(await thrown(() => loadQaDataset('squad', 'public/no/such/file.json'))).toBeInstanceOf(errors.RulerDataError);
    expect(await thrown(() => readSource('http://127.0.0.1:1/x'))).toBeInstanceOf(errors.NetworkError);
    expect(await thrown(() => taskInfo('niah_nope'))).toBeInstanceOf(errors.InvalidRequestError);
  });
});
