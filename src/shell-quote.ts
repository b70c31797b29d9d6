/** One word for a POSIX shell: as is when it holds only safe characters, else single-quoted. */
export function shellQuote(word: string): string {
  if (word === '') return "''";
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`;
}
