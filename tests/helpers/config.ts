/**
 * Writes test config files.
 * @module
 */

/** Writes `yaml` to a temp file and returns its path. */
export async function writeConfig(yaml: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "jetport-config-" });
  const file = `${dir}/jetport.yaml`;
  await Deno.writeTextFile(file, yaml);
  return file;
}
