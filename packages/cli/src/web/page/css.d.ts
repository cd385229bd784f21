// esbuild bundles imported CSS into app.css; for tsc an import of it has no value.
declare module '*.css';
