/** The "Examples:" block every command's help ends with: what each does, then the command. Pure. */
export function examples(items: readonly (readonly [what: string, command: string])[]): string {
  return `\nExamples:\n${items.map(([what, command]) => `  # ${what}\n  $ ${command}`).join('\n')}\n`;
}
