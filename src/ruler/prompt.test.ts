import { describe, expect, it } from 'vitest';
import { fill, render, singularize, templated } from './prompt';
import { kNiahAnswerPrefix, kNiahTemplate } from './tasks/niah';
import { llama3LikeTemplate } from './testing';

describe('prompt assembly', () => {
  it('fills known fields in one pass and leaves other braces alone', () => {
    expect(fill('{query} {context} {x} {query}', { query: '{context}', context: 'C' })).toBe('{context} C {x} {context}');
  });

  it("applies RULER's singular rewrite to the whole templated string", () => {
    const full = singularize(templated(llama3LikeTemplate, kNiahTemplate, kNiahAnswerPrefix));
    const p = render(full, singularize(kNiahAnswerPrefix), 'HAY are Some', { type_needle_v: 'number', query: 'calm-river' });
    expect(p.context).toBe(
      '<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nA special magic number is hidden within the following text. Make sure to memorize it. I will quiz you about the number afterwards.\nHAY are Some',
    );
    expect(p.query).toBe(
      '\nWhat is the special magic number for calm-river mentioned in the provided text?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n The special magic number for calm-river mentioned in the provided text is',
    );
    expect(p.answerPrefix).toBe(' The special magic number for calm-river mentioned in the provided text is');
    // the system text of a chat template is rewritten too, exactly as RULER does ('are' → 'is')
    expect(singularize('You are Some answers')).toBe('You is A answer');
  });

  it('refuses templates without {context} or not ending in the prefix', () => {
    expect(() => render('no context here X', 'X', 'h', {})).toThrow();
    expect(() => render('{context} X', 'Y', 'h', {})).toThrow();
  });
});
