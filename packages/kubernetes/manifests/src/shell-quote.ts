/** Quotes one word for a POSIX shell: 'it'\''s'. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** A command line from words, each quoted as needed. */
export function shellCommand(words: string[]): string {
  return words.map(shellQuote).join(" ");
}
