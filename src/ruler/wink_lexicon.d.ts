// Types for the two wink-lexicon data files that src/ruler/words.ts imports (the package ships none).

declare module 'wink-lexicon/src/lexicon.js' {
  /** word → Penn Treebank tags, the word's most frequent tag first. */
  const lexicon: Record<string, string[]>;
  export default lexicon;
}

declare module 'wink-lexicon/src/wn-words.js' {
  /** WordNet 3.x lemma → sense data (only the keys are used here). */
  const words: Record<string, unknown>;
  export default words;
}
