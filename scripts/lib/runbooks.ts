/**
 * Reads the commands out of the runbooks (docs/runbooks/*.md) for the runbook test: every line of
 * every fenced `sh` block, split the way a POSIX shell splits it into simple commands (quotes,
 * `\` line continuations, `|`, `;`, `&&`, `||`, `$( … )`, comments, redirections, leading
 * `VAR=value` assignments and `sudo`), with `$VAR` expanded from the variables the caller knows.
 * A small reader, not a shell: it needs to be exact only for the lines runbooks hold.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** One simple command of a runbook. */
export interface RunbookCommand {
  /** Runbook file name, e.g. "screen-not-responding.md". */
  file: string;
  /** 1-based line of the block line the command starts on. */
  line: number;
  /** The whole shell line it came from (continuations joined). */
  source: string;
  /** Its words after quote removal and expansion; `sudo` and leading assignments dropped. */
  words: string[];
  /** Variables the command names that the caller did not define (only a problem for commands that are run). */
  unknownVariables: string[];
}

/** The `sh` blocks of every runbook in `dir`, in file order, as simple commands. */
export function runbookCommands(dir: string, variables: Record<string, string>): RunbookCommand[] {
  const commands: RunbookCommand[] = [];
  for (const file of readdirSync(dir)
    .filter((name) => name.endsWith(".md"))
    .sort()) {
    for (const { line, text } of shellLines(readFileSync(join(dir, file), "utf8"))) {
      for (const simple of splitCommands(text)) {
        const parsed = expandWords(simple, variables);
        if (parsed.words.length > 0) commands.push({ file, line, source: text, ...parsed });
      }
    }
  }
  return commands;
}

/** The lines of the fenced `sh` blocks of a Markdown text, continuations joined, with their line numbers. */
export function shellLines(markdown: string): Array<{ line: number; text: string }> {
  const lines = markdown.split("\n");
  const result: Array<{ line: number; text: string }> = [];
  let inBlock = false;
  let pending: { line: number; text: string } | undefined;
  lines.forEach((raw, index) => {
    const fence = /^\s*```(\S*)\s*$/.exec(raw);
    if (fence) {
      inBlock = !inBlock && fence[1] === "sh";
      pending = undefined;
      return;
    }
    if (!inBlock) return;
    const text = raw.trim();
    const joined = pending ? `${pending.text} ${text}` : text;
    const start = pending?.line ?? index + 1;
    if (joined.endsWith("\\")) {
      pending = { line: start, text: joined.slice(0, -1).trimEnd() };
      return;
    }
    pending = undefined;
    if (joined !== "") result.push({ line: start, text: joined });
  });
  return result;
}

/** A word before expansion: its parts, each literal (single-quoted) or expandable. */
type Part = { text: string; expand: boolean };
type RawWord = Part[];

/**
 * Splits one shell line into simple commands (lists of raw words), separating on unquoted `|`,
 * `;`, `&`, `&&` and `||`; the contents of each `$( … )` become simple commands of their own and
 * leave an opaque word behind. Comments end the line; redirections are dropped.
 */
export function splitCommands(line: string): RawWord[][] {
  const commands: RawWord[][] = [];
  let words: RawWord[] = [];
  let word: RawWord | undefined;
  let i = 0;
  const part = (text: string, expand: boolean) => {
    word ??= [];
    word.push({ text, expand });
  };
  const endWord = () => {
    if (word) words.push(word);
    word = undefined;
  };
  const endCommand = () => {
    endWord();
    if (words.length > 0) commands.push(words);
    words = [];
  };
  while (i < line.length) {
    const c = line[i] as string;
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      part(line.slice(i + 1, end < 0 ? line.length : end), false);
      i = end < 0 ? line.length : end + 1;
    } else if (c === '"') {
      let j = i + 1;
      let text = "";
      while (j < line.length && line[j] !== '"') {
        if (line[j] === "\\" && j + 1 < line.length) {
          text += line[j + 1];
          j += 2;
        } else if (line.startsWith("$(", j)) {
          const end = matchingParen(line, j + 1);
          commands.push(...splitCommands(line.slice(j + 2, end)));
          text += "\u0000subst\u0000";
          j = end + 1;
        } else {
          text += line[j];
          j++;
        }
      }
      part(text, true);
      i = j + 1;
    } else if (line.startsWith("$(", i)) {
      const end = matchingParen(line, i + 1);
      commands.push(...splitCommands(line.slice(i + 2, end)));
      part("\u0000subst\u0000", false);
      i = end + 1;
    } else if (c === "\\" && i + 1 < line.length) {
      part(line[i + 1] as string, false);
      i += 2;
    } else if (c === "#" && word === undefined) {
      break;
    } else if (c === "|" || c === ";" || c === "&") {
      endCommand();
      i += line[i + 1] === c ? 2 : 1;
    } else if (/\s/.test(c)) {
      endWord();
      i++;
    } else if ((c === ">" || c === "<") && word === undefined) {
      // A redirection: the operator and its target are not arguments.
      i++;
      while (line[i] === ">" || line[i] === "&") i++;
      while (i < line.length && /\s/.test(line[i] as string)) i++;
      while (i < line.length && !/[\s|;&]/.test(line[i] as string)) i++;
    } else if (/\d/.test(c) && word === undefined && (line[i + 1] === ">" || line[i + 1] === "<")) {
      i++;
    } else {
      let j = i + 1;
      while (j < line.length && !/[\s'"\\|;&<>]/.test(line[j] as string) && !line.startsWith("$(", j)) j++;
      part(line.slice(i, j), true);
      i = j;
    }
  }
  endCommand();
  return commands;
}

function matchingParen(line: string, open: number): number {
  let depth = 0;
  for (let i = open; i < line.length; i++) {
    if (line[i] === "(") depth++;
    if (line[i] === ")" && --depth === 0) return i;
  }
  return line.length;
}

/**
 * Turns raw words into strings: `$VAR` and `${VAR}` in expandable parts become the variable's
 * value; leading `NAME=value` words (assignments) and `sudo` go. An undefined variable is listed
 * in `unknownVariables` and left as written.
 */
export function expandWords(
  raw: RawWord[],
  variables: Record<string, string>,
): { words: string[]; unknownVariables: string[] } {
  const unknownVariables: string[] = [];
  const words = raw.map((word) =>
    word
      .map((p) =>
        p.expand
          ? p.text.replace(/\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?/g, (whole, name: string) => {
              if (name in variables) return variables[name] as string;
              unknownVariables.push(name);
              return whole;
            })
          : p.text,
      )
      .join(""),
  );
  let start = 0;
  while (start < words.length && /^[A-Za-z_][A-Za-z0-9_]*=/.test(raw[start]?.[0]?.text ?? "")) start++;
  if (words[start] === "sudo") start++;
  return { words: words.slice(start), unknownVariables: start === words.length ? [] : unknownVariables };
}
