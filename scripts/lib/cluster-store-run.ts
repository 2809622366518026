export async function storeRun(_faces: unknown[], _radius: number): Promise<{ msPerFace: number; clusters: number; reclusterMs: number } | null> {
  return null;
}
