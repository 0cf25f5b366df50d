import fs from "node:fs";
import { ResultStoreCorruptError } from "./errors.js";
import { fsyncFd, openReadWrite, writeFully } from "./file-io.js";

/**
 * Turns one parsed JSON line into an event, or returns undefined when it is not a valid event with
 * the expected (dense, 1-based) id.
 */
export type EventParser<T> = (raw: unknown, expectedId: number) => T | undefined;

/**
 * A small append-only JSON-lines file of events (status changes, artifacts). These come at most a few
 * per step, so all of them are kept in memory for followers; each append is written to the OS at once.
 * A torn last line left by a crash is dropped on open.
 */
export class EventFile<T> {
  private constructor(
    private readonly fd: number,
    private size: number,
    readonly events: T[],
  ) {}

  static open<T>(path: string, parse: EventParser<T>): EventFile<T> {
    const fd = openReadWrite(path);
    try {
      const text = fs.readFileSync(fd, "utf8");
      const lines = text.split("\n");
      const events: T[] = [];
      let size = 0;
      for (let i = 0; i < lines.length; i++) {
        const line = lines[i]!;
        const complete = i < lines.length - 1;
        if (!complete && line === "") break;
        const event = parseLine(line, parse, events.length + 1);
        if (!event || !complete) {
          const isLast = i >= lines.length - 2;
          if (!isLast) throw new ResultStoreCorruptError(`${path}: line ${i + 1} is not a valid event`);
          break; // torn tail
        }
        events.push(event);
        size += Buffer.byteLength(line) + 1;
      }
      fs.ftruncateSync(fd, size);
      return new EventFile(fd, size, events);
    } catch (err) {
      fs.closeSync(fd);
      throw err;
    }
  }

  append(event: T): void {
    const line = Buffer.from(`${JSON.stringify(event)}\n`, "utf8");
    writeFully(this.fd, line, 0, line.length, this.size);
    this.size += line.length;
    this.events.push(event);
  }

  sync(): Promise<void> {
    return fsyncFd(this.fd);
  }

  close(): void {
    fs.closeSync(this.fd);
  }
}

function parseLine<T>(line: string, parse: EventParser<T>, expectedId: number): T | undefined {
  try {
    return parse(JSON.parse(line), expectedId);
  } catch {
    return undefined;
  }
}
