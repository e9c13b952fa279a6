// The question both the page and the Node script ask: a number hidden in noise, RULER-style (the bundled model
// was trained on such prompts).
const noise = 'The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again.\n';
export const context =
  'A special magic number is hidden within the following text. Make sure to memorize it. I will quiz you about the number afterwards.\n' +
  noise + 'One of the special magic numbers for lively-apple is: 4817203.\n' + noise;
export const query =
  ' What is the special magic number for lively-apple mentioned in the provided text? The special magic number for lively-apple mentioned in the provided text is';
