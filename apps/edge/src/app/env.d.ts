/// <reference types="vite/client" />

/** The app's version (package version, or XRAY_APP_VERSION at build time). */
declare const __APP_VERSION__: string;
