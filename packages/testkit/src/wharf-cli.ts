import { wharfCommand } from "@wharf/config/build-info";

/**
 * The arguments that make `node` run `wharf <args>` as users run it: the compiled CLI that
 * `pnpm build` writes (the test setup builds it first). `spawn(process.execPath, wharfArgs([...]))`.
 */
export function wharfArgs(args: readonly string[]): string[] {
  return [...wharfCommand().slice(1), ...args];
}
