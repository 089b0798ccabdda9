/** Keeps the last `limit` bytes of a stream of chunks. */
export class TailBuffer {
  #limit: number;
  #chunks: Uint8Array[] = [];
  #size = 0;
  /** Bytes seen in all, kept or not. */
  total = 0;

  constructor(limit: number) {
    this.#limit = limit;
  }

  /** Adds a chunk, dropping the oldest bytes past the limit. */
  push(chunk: Uint8Array): void {
    this.total += chunk.length;
    if (this.#limit === 0) return;
    if (chunk.length >= this.#limit) {
      this.#chunks = [chunk.slice(chunk.length - this.#limit)];
      this.#size = this.#limit;
      return;
    }
    this.#chunks.push(chunk.slice());
    this.#size += chunk.length;
    while (this.#size > this.#limit) {
      const first = this.#chunks[0]!;
      const excess = this.#size - this.#limit;
      if (first.length <= excess) {
        this.#chunks.shift();
        this.#size -= first.length;
      } else {
        this.#chunks[0] = first.subarray(excess);
        this.#size -= excess;
      }
    }
  }

  /** The kept bytes as one array. */
  bytes(): Uint8Array {
    const out = new Uint8Array(this.#size);
    let offset = 0;
    for (const chunk of this.#chunks) {
      out.set(chunk, offset);
      offset += chunk.length;
    }
    return out;
  }
}
