// Placeholder while the handler is written; replaced in the engine commit.
export async function handler(_event: unknown): Promise<never> {
  throw new Error('start handler is not written yet');
}
