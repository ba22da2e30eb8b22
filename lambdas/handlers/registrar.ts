// Placeholder while the handler is written; replaced in the engine commit.
export async function handler(_event: unknown): Promise<never> {
  throw new Error('registrar handler is not written yet');
}
