/**
 * The docs stay true to the code they show: every TypeScript block in README.md and docs/*.md is a
 * verbatim copy of a region of an examples/ file (which test/e2e/examples.test.ts runs), named by the
 * comment above the block; every relative link points at a file that exists; README.md stays an
 * entry page.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = new URL('../../', import.meta.url).pathname;
const read = (path: string) => readFileSync(join(root, path), 'utf8');
const pages = ['README.md', ...readdirSync(join(root, 'docs')).map((f) => `docs/${f}`)].filter(
  (p) => p.endsWith('.md'),
);

const MARKER = /^<!-- example: (examples\/[\w.-]+\.ts)#([\w-]+) -->$/;

/** The ```ts blocks of a page, each with the line above it. */
function tsBlocks(markdown: string): { above: string; code: string; line: number }[] {
  const lines = markdown.split('\n');
  const blocks: { above: string; code: string; line: number }[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^```(ts|typescript)\s*$/.test(lines[i]!)) continue;
    const close = lines.indexOf('```', i + 1);
    if (close < 0) throw new Error(`line ${i + 1}: unclosed code block`);
    blocks.push({
      above: lines[i - 1] ?? '',
      code: lines.slice(i + 1, close).join('\n'),
      line: i + 1,
    });
    i = close;
  }
  return blocks;
}

/** The lines between `// #region <name>` and the next `// #endregion`, without their indentation. */
function region(source: string, name: string): string {
  const lines = source.split('\n');
  const start = lines.findIndex((l) => new RegExp(`^\\s*// #region ${name}\\b`).test(l));
  if (start < 0) throw new Error(`no region ${name}`);
  const end = lines.findIndex((l, i) => i > start && /^\s*\/\/ #endregion/.test(l));
  if (end < 0) throw new Error(`region ${name} has no end`);
  const body = lines.slice(start + 1, end);
  const indent = Math.min(...body.filter((l) => l.trim()).map((l) => /^ */.exec(l)![0].length));
  return body.map((l) => l.slice(indent)).join('\n');
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces as hyphens. */
function anchors(markdown: string): string[] {
  return [...markdown.matchAll(/^#{1,6} (.+)$/gm)].map((m) =>
    m[1]!
      .toLowerCase()
      .replace(/[^\p{L}\p{N} _-]/gu, '')
      .replace(/ /g, '-'),
  );
}

describe('the docs', () => {
  it.each(pages)('%s: every TypeScript block is an examples/ region, verbatim', (page) => {
    for (const block of tsBlocks(read(page))) {
      const marker = MARKER.exec(block.above);
      expect(
        marker,
        `${page}:${block.line}: no <!-- example: examples/x.ts#region --> above`,
      ).not.toBeNull();
      const [, file, name] = marker!;
      expect(block.code, `${page}:${block.line}: differs from ${file}#${name}`).toBe(
        region(read(file!), name!),
      );
    }
  });

  it.each(pages)('%s: every relative link points at a file (and heading) that exists', (page) => {
    for (const [, link, anchor] of read(page).matchAll(/\]\(([^)\s#]*)(?:#([^)\s]+))?\)/g)) {
      if (/^[a-z]+:/.test(link!)) continue;
      const target = link ? join(dirname(page), link) : page;
      expect(existsSync(join(root, target)), `${page}: ${link}`).toBe(true);
      if (anchor && target.endsWith('.md'))
        expect(anchors(read(target)), `${page}: ${link}#${anchor}`).toContain(anchor);
    }
  });

  it('README.md is an entry page: at most 300 lines, linking every doc', () => {
    const readme = read('README.md');
    expect(readme.split('\n').length).toBeLessThanOrEqual(300);
    for (const page of pages.filter((p) => p !== 'README.md'))
      expect(readme, `README.md links ${page}`).toContain(`](${page})`);
  });

  it('a block that drifts from its region, or has no marker, is caught', () => {
    const source = 'x;\n  // #region a\n  const a = 1;\n  // #endregion\n';
    expect(region(source, 'a')).toBe('const a = 1;');
    const page = '<!-- example: examples/x.ts#a -->\n```ts\nconst a = 2;\n```\n';
    expect(tsBlocks(page)).toEqual([
      { above: '<!-- example: examples/x.ts#a -->', code: 'const a = 2;', line: 2 },
    ]);
    expect(tsBlocks(page)[0]!.code).not.toBe(region(source, 'a'));
  });
});
