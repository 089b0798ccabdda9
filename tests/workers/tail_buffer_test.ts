import assert from "node:assert/strict";
import { TailBuffer } from "../../workers/tail_buffer.ts";

const bytes = (text: string) => new TextEncoder().encode(text);
const text = (buffer: TailBuffer) => new TextDecoder().decode(buffer.bytes());

Deno.test("TailBuffer keeps everything while under its limit", () => {
  const buffer = new TailBuffer(10);
  buffer.push(bytes("abc"));
  buffer.push(bytes("def"));
  assert.equal(text(buffer), "abcdef");
  assert.equal(buffer.total, 6);
});

Deno.test("TailBuffer keeps exactly its limit when filled to it", () => {
  const buffer = new TailBuffer(6);
  buffer.push(bytes("abc"));
  buffer.push(bytes("def"));
  assert.equal(text(buffer), "abcdef");
});

Deno.test("TailBuffer drops the oldest bytes across chunks", () => {
  const buffer = new TailBuffer(5);
  for (const chunk of ["ab", "cd", "ef", "gh"]) buffer.push(bytes(chunk));
  assert.equal(text(buffer), "defgh");
  assert.equal(buffer.total, 8);
  buffer.push(bytes("i"));
  assert.equal(text(buffer), "efghi");
});

Deno.test("TailBuffer keeps the end of a chunk longer than its limit", () => {
  const buffer = new TailBuffer(4);
  buffer.push(bytes("xy"));
  buffer.push(bytes("0123456789"));
  assert.equal(text(buffer), "6789");
  buffer.push(bytes("ab"));
  assert.equal(text(buffer), "89ab");
  assert.equal(buffer.total, 14);
});

Deno.test("TailBuffer with limit 0 keeps nothing but counts every byte", () => {
  const buffer = new TailBuffer(0);
  buffer.push(bytes("hello"));
  assert.equal(buffer.bytes().length, 0);
  assert.equal(buffer.total, 5);
});

Deno.test("TailBuffer copies chunks, so reusing a read buffer does not change what it kept", () => {
  const buffer = new TailBuffer(8);
  const chunk = bytes("abcd");
  buffer.push(chunk);
  chunk.set(bytes("zzzz"));
  assert.equal(text(buffer), "abcd");
  const big = bytes("0123456789");
  buffer.push(big);
  big.fill(0);
  assert.equal(text(buffer), "23456789");
});

Deno.test("TailBuffer matches a plain slice of the whole stream for random chunking", () => {
  let seed = 7;
  const random = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
  for (let round = 0; round < 50; round++) {
    const limit = random(40);
    const buffer = new TailBuffer(limit);
    const all: number[] = [];
    for (let i = random(20); i > 0; i--) {
      const chunk = Uint8Array.from({ length: random(30) }, () => random(256));
      all.push(...chunk);
      buffer.push(chunk);
    }
    const expected = limit === 0 ? [] : all.slice(Math.max(0, all.length - limit));
    assert.deepEqual([...buffer.bytes()], expected, `limit ${limit}`);
    assert.equal(buffer.total, all.length);
  }
});
