/**
 * The URL of the bundle file this code runs in when the server runs from dist/ (build.mjs replaces
 * this module's body with `import.meta.url`); undefined when it runs from the TypeScript sources.
 * For files shipped beside the bundle (the render worker's script). Everything else resolves paths
 * with `import.meta.url`, which the build keeps pointing at each module's place in the source tree.
 */
export const BUNDLE_URL: string | undefined = undefined;
